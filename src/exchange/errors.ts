import { KeyportError, type ErrorCode } from '../lib/errors.js';

/** RFC 6749 / 8693 error codes the token-exchange grant answers with. */
export type OAuthErrorCode = 'invalid_request' | 'invalid_grant' | 'invalid_scope' | 'invalid_target' | 'unauthorized_client';

/**
 * A refusal that has no docs/reference.md §4 code of its own but a precise OAuth one (e.g. an unknown audience
 * is `invalid_target`). Keyport's own endpoints render `code`; the grant renders `oauthError`.
 */
export class ExchangeRefused extends KeyportError {
  constructor(code: ErrorCode, readonly oauthError: OAuthErrorCode, message: string) {
    super(code, message);
    this.name = 'ExchangeRefused';
  }
}

/** The OAuth error for any refusal of the exchange's domain services (the grant's side of the mapping). */
export function oauthErrorOf(err: KeyportError): OAuthErrorCode {
  if (err instanceof ExchangeRefused) return err.oauthError;
  switch (err.code) {
    case 'missing_api_key':
    case 'invalid_api_key':
    case 'expired_api_key':
    case 'revoked_api_key':
    case 'ip_not_allowed':
    case 'invalid_token':
      return 'invalid_grant';
    case 'insufficient_scope':
      return 'invalid_scope';
    default:
      return 'invalid_request';
  }
}
