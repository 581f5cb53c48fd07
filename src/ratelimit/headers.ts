import type { RateLimitDecision } from './decision.js';

/** An RFC 8941 sf-string: policy names are ours, but quote them properly anyway. */
function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

/**
 * The response fields of a limited request (docs/reference.md §5):
 * - `X-RateLimit-Limit` / `-Remaining` / `-Reset` (epoch seconds) describe the most restrictive
 *   window, the de-facto convention (GitHub, Stripe) most client libraries read;
 * - `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) list every
 *   window: `"minute";q=60;w=60` is the quota `q` per window of `w` seconds, and
 *   `"minute";r=59;t=42` the `r` requests remaining, resetting in `t` seconds.
 * `Retry-After` on a 429 is added by the RateLimitExceeded error.
 */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(decision.limit),
    'X-RateLimit-Remaining': String(decision.remaining),
    'X-RateLimit-Reset': String(decision.resetEpochSeconds),
    'RateLimit-Policy': decision.windows.map((window) => `${sfString(window.policy)};q=${window.limit};w=${window.windowSeconds}`).join(', '),
    RateLimit: decision.windows.map((window) => `${sfString(window.policy)};r=${window.remaining};t=${window.resetSeconds}`).join(', '),
  };
}

/** Names of the fields above plus Retry-After, for `Access-Control-Expose-Headers`. */
export const RATE_LIMIT_HEADER_NAMES = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'RateLimit-Policy', 'RateLimit', 'Retry-After'] as const;
