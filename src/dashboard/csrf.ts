import { createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../lib/crypto.js';

/**
 * CSRF tokens of the dashboard's forms. Signed in, the token is an HMAC of the session token
 * (which only this browser has): bound to the session, new at every sign-in, dead at sign-out,
 * and nothing to store. Before sign-in, the sign-in form's token is bound the same way to a
 * random nonce in a short-lived cookie (against login CSRF).
 */
export class CsrfTokens {
  constructor(private readonly key: Buffer) {}

  forSession(sessionToken: string): string {
    return this.mac(`session:${sessionToken}`);
  }

  forSignIn(nonce: string): string {
    return this.mac(`sign-in:${nonce}`);
  }

  static newNonce(): string {
    return randomBytes(24).toString('base64url');
  }

  static matches(presented: unknown, expected: string): boolean {
    return typeof presented === 'string' && constantTimeEqual(presented, expected);
  }

  private mac(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url');
  }
}
