import type { KeyportContext, Middleware } from '../http/context.js';
import { KeyportError, RateLimitExceeded } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { RateLimits } from './service.js';
import type { RateLimitDecision } from './decision.js';
import { apiKeySubject } from './api_key_subject.js';
import { rateLimitHeaders } from './headers.js';

declare module '../http/context.js' {
  interface KeyportState {
    /** The decision whose numbers the response headers carry (e.g. for `GET /auth/test`'s `rate_limit`). */
    rateLimit?: RateLimitDecision;
  }
}

/** What refusing a request uses: the rejection counter. */
export interface RateLimitRefusalServices {
  readonly metrics: Pick<Metrics, 'rateLimitRejections'>;
}

/** What a rate-limit step that asks the limits for its decision uses, unless it says otherwise. */
export interface RateLimitStepServices extends RateLimitRefusalServices {
  readonly rateLimits: RateLimits;
}

/** What the API-key limit (`limitApiKey`) uses. */
export interface ApiKeyLimitServices extends RateLimitRefusalServices {
  readonly rateLimits: Pick<RateLimits, 'consumeApiKey'>;
}

/** What the key-guessing guard (`guardKeyGuessing`) uses. */
export interface KeyGuessingGuardServices extends RateLimitRefusalServices {
  readonly rateLimits: Pick<RateLimits, 'checkFailedKeyIp' | 'consumeFailedKeyIp'>;
}

/** What the per-address login limit (`limitLoginByIp`) uses. */
export interface LoginIpLimitServices extends RateLimitRefusalServices {
  readonly rateLimits: Pick<RateLimits, 'consumeLoginIp'>;
}

/** Puts the X-RateLimit-* and IETF RateLimit / RateLimit-Policy fields on the response. */
export function setRateLimitHeaders(ctx: KeyportContext<unknown>, decision: RateLimitDecision): void {
  ctx.set(rateLimitHeaders(decision));
  ctx.state.rateLimit = decision;
}

/** Counts the refusal and throws the 429 (with `Retry-After`, `retry_after` and the rate-limit fields). */
export function refuseRequest(ctx: KeyportContext<RateLimitRefusalServices>, decision: RateLimitDecision): never {
  ctx.services.metrics.rateLimitRejections.inc({ limiter: decision.limiter });
  throw new RateLimitExceeded(decision.retryAfterSeconds, rateLimitHeaders(decision));
}

export interface EnforceOptions {
  /**
   * `always` (default): every response of the route carries the fields of this decision.
   * `when-refused`: only a 429 does — for a guard whose numbers would otherwise hide the
   * per-key ones that a later step sets (see `guardKeyGuessing`).
   */
  readonly headers?: 'always' | 'when-refused';
}

/**
 * A route step (over the services `decideFor` reads; the rate limits unless given): asks `decide` (which counts the request), sets the headers, and refuses with
 * 429 rate_limit_exceeded when the decision says so.
 *
 *   router.get('/auth/test', guardKeyGuessing, authenticateApiKey,
 *     enforceRateLimit((ctx) => ctx.services.rateLimits.consumeApiKey({ keyId, env, overrides })),
 *     async function showKey(ctx) { … rateLimitSummary(ctx.state.rateLimit!) … });
 */
export function enforceRateLimit<S extends RateLimitRefusalServices = RateLimitStepServices>(decideFor: (ctx: KeyportContext<S>) => Promise<RateLimitDecision>, options: EnforceOptions = {}): Middleware<S> {
  return async function enforceRateLimitStep(ctx, next) {
    const decision = await decideFor(ctx);
    if (!decision.allowed) {
      setRateLimitHeaders(ctx, decision);
      refuseRequest(ctx, decision);
    }
    if (options.headers !== 'when-refused') setRateLimitHeaders(ctx, decision);
    await next();
  };
}

/**
 * Per API key (docs/reference.md §5): put right after `authenticateApiKey`. Counts the request against the
 * key's burst, minute and hour windows; requests authenticated otherwise pass untouched.
 */
export const limitApiKey: Middleware<ApiKeyLimitServices> = async function limitApiKey(ctx, next) {
  const authenticated = ctx.state.apiKey;
  if (!authenticated) return next();
  const decision = await ctx.services.rateLimits.consumeApiKey(apiKeySubject(authenticated.key));
  setRateLimitHeaders(ctx, decision);
  if (!decision.allowed) refuseRequest(ctx, decision);
  return next();
};

/** Per IP on login attempts (the password login form, and any other login route). */
export const limitLoginByIp: Middleware<LoginIpLimitServices> = enforceRateLimit<LoginIpLimitServices>((ctx) => ctx.services.rateLimits.consumeLoginIp(ctx.ip));

/** Only unknown or malformed keys look like guessing; an expired or revoked key is a known one. */
const GUESSING_CODES = new Set(['invalid_api_key']);

/**
 * Put first on every route that checks an API key. An address that failed too many key checks
 * this window gets 429 before its key is even looked at; every `invalid_api_key` thrown further
 * down counts as one failure for the caller's address.
 */
export const guardKeyGuessing: Middleware<KeyGuessingGuardServices> = async function guardKeyGuessing(ctx, next) {
  const { rateLimits } = ctx.services;
  const standing = await rateLimits.checkFailedKeyIp(ctx.ip);
  if (!standing.allowed) {
    setRateLimitHeaders(ctx, standing);
    refuseRequest(ctx, standing);
  }
  try {
    await next();
  } catch (err) {
    if (err instanceof KeyportError && GUESSING_CODES.has(err.code)) await rateLimits.consumeFailedKeyIp(ctx.ip);
    throw err;
  }
};
