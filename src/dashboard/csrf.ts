import { boundToken, matchesToken, randomToken } from '../lib/crypto.js';

/**
 * CSRF tokens of the dashboard's forms. Signed in, the token is an HMAC of the session token
 * (which only this browser has): bound to the session, new at every sign-in, dead at sign-out,
 * and nothing to store. Before sign-in, the sign-in form's token is bound the same way to a
 * random nonce in a short-lived cookie (against login CSRF). The primitives are in
 * src/lib/crypto.ts (`boundToken`, `matchesToken`); what is bound to what is decided here.
 */
export class CsrfTokens {
  constructor(private readonly key: Buffer) {}

  forSession(sessionToken: string): string {
    return boundToken(this.key, 'session', sessionToken);
  }

  forSignIn(nonce: string): string {
    return boundToken(this.key, 'sign-in', nonce);
  }

  /** 24 random bytes, base64url: the sign-in form's nonce. */
  static newNonce(): string {
    return randomToken(24);
  }

  static matches(presented: unknown, expected: string): boolean {
    return matchesToken(presented, expected);
  }
}
