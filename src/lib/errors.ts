/**
 * The one error hierarchy of Keyport's own endpoints (docs/reference.md §4). Domain code throws these;
 * `http/error_handler.ts` is the one place that turns them into responses. Anything else that
 * escapes becomes a generic `server_error` with no internals.
 */

/** Stable wire codes with their HTTP status and default message. Tests assert on these names. */
export const ERROR_CODES = {
  invalid_request: { status: 400, message: 'The request is malformed.' },
  invalid_dpop_proof: { status: 400, message: 'The DPoP proof is invalid.' },
  missing_api_key: { status: 401, message: 'No API key was presented.' },
  invalid_api_key: { status: 401, message: 'The API key is invalid.' },
  expired_api_key: { status: 401, message: 'The API key has expired.' },
  revoked_api_key: { status: 401, message: 'The API key has been revoked.' },
  invalid_token: { status: 401, message: 'The access token is invalid, expired or revoked.' },
  unauthorized: { status: 401, message: 'Authentication is required.' },
  insufficient_scope: { status: 403, message: 'The credential lacks a required scope.' },
  ip_not_allowed: { status: 403, message: "The caller's address is not on the key's allow list." },
  insecure_connection: { status: 403, message: 'HTTPS is required.' },
  forbidden: { status: 403, message: 'This action is not allowed.' },
  not_found: { status: 404, message: 'Not found.' },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  conflict: { status: 409, message: 'The resource is in a conflicting state.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  unsupported_media_type: { status: 415, message: 'The request body must be JSON.' },
  rate_limit_exceeded: { status: 429, message: 'Too many requests.' },
  server_error: { status: 500, message: 'An unexpected error occurred.' },
  service_unavailable: { status: 503, message: 'The service is temporarily unavailable.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class KeyportError extends Error {
  readonly status: number;
  /** Extra fields inside the body's `error` object (e.g. `retry_after`, docs/reference.md §4). */
  readonly details: Readonly<Record<string, unknown>>;
  /** Extra top-level fields for the error body. */
  readonly extra: Readonly<Record<string, unknown>>;
  /** Response headers that belong with this error (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(readonly code: ErrorCode, message?: string, options: { details?: Record<string, unknown>; extra?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.name = 'KeyportError';
    this.status = ERROR_CODES[code].status;
    this.details = options.details ?? {};
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

export class InvalidRequest extends KeyportError {
  constructor(message?: string) { super('invalid_request', message); }
}
/** RFC 9449 §7.1: the `DPoP` header does not hold (signature, htm/htu, freshness, replay). */
export class InvalidDpopProof extends KeyportError {
  constructor(message?: string) { super('invalid_dpop_proof', message); }
}
export class MissingApiKey extends KeyportError {
  constructor() { super('missing_api_key'); }
}
export class InvalidApiKey extends KeyportError {
  constructor() { super('invalid_api_key'); }
}
export class ExpiredApiKey extends KeyportError {
  constructor() { super('expired_api_key'); }
}
export class RevokedApiKey extends KeyportError {
  constructor() { super('revoked_api_key'); }
}
export class InvalidToken extends KeyportError {
  constructor(message?: string) { super('invalid_token', message); }
}
export class Unauthorized extends KeyportError {
  constructor(message?: string) { super('unauthorized', message); }
}
export class InsufficientScope extends KeyportError {
  constructor(message?: string) { super('insufficient_scope', message); }
}
export class IpNotAllowed extends KeyportError {
  constructor() { super('ip_not_allowed'); }
}
export class InsecureConnection extends KeyportError {
  constructor() { super('insecure_connection'); }
}
export class Forbidden extends KeyportError {
  constructor(message?: string) { super('forbidden', message); }
}
export class NotFound extends KeyportError {
  constructor(message?: string) { super('not_found', message); }
}
export class Conflict extends KeyportError {
  constructor(message?: string) { super('conflict', message); }
}
export class PayloadTooLarge extends KeyportError {
  constructor() { super('payload_too_large'); }
}
export class UnsupportedMediaType extends KeyportError {
  constructor() { super('unsupported_media_type'); }
}
export class RateLimitExceeded extends KeyportError {
  constructor(readonly retryAfterSeconds: number, headers: Record<string, string> = {}) {
    super('rate_limit_exceeded', `Too many requests; retry in ${retryAfterSeconds} s.`, {
      // Inside `error` (docs/reference.md §4); the top-level copy is what clients of earlier versions read.
      details: { retry_after: retryAfterSeconds },
      extra: { retry_after: retryAfterSeconds },
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
/** Retry-After of a 503 while the database is down or stalled (docs/operations.md). */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;

/** 503 with Retry-After: an outage, a stalled dependency, a spent request budget, or a draining instance. */
export class ServiceUnavailable extends KeyportError {
  constructor(cause?: unknown, options: { message?: string; retryAfterSeconds?: number } = {}) {
    super('service_unavailable', options.message, { cause, headers: { 'Retry-After': String(options.retryAfterSeconds ?? OUTAGE_RETRY_AFTER_SECONDS) } });
  }
}
