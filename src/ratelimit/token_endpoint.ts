import { ROUTES } from '../oidc/configuration.js';
import { errors, Provider, wrapClientFind, type ClientFind, type EngineClient, type KoaContextWithOIDC } from '../oidc/engine/index.js';
import type { RateLimitDependencies } from './dependencies.js';
import type { ApiKeyRecord } from '../keys/index.js';
import { apiKeySubject } from './api_key_subject.js';
import type { RateLimitDecision } from './decision.js';
import { rateLimitHeaders } from './headers.js';
import type { ApiKeySubject } from './service.js';

/** Requests of these clients are not counted per client (API-key exchanges count per key instead). */
export type ClientExemption = (clientId: string) => boolean;

const CHECKED = Symbol('keyport.clientLimitChecked');

type TokenContext = KoaContextWithOIDC & { [CHECKED]?: true };

/** RFC 6749-style error (the token endpoint's error format, docs/reference.md §2) with status 429. */
export function oauthRateLimitError(decision: RateLimitDecision): InstanceType<typeof errors.OIDCProviderError> {
  const error = new errors.OIDCProviderError(429, 'rate_limit_exceeded');
  error.error_description = `too many requests; retry in ${decision.retryAfterSeconds} s`;
  return error;
}

/**
 * `enforceRateLimit` for code running inside oidc-provider (a grant handler such as the API-key
 * token exchange): sets the rate-limit fields and, when refused, `Retry-After` and a 429 in the
 * provider's error format.
 *
 *   const decision = await services.rateLimits.consumeApiKey({ keyId, env, overrides });
 *   enforceOAuthRateLimit(ctx, decision, services.metrics);
 */
export function enforceOAuthRateLimit(ctx: { set(fields: Record<string, string>): void }, decision: RateLimitDecision, metrics: RateLimitDependencies['metrics']): void {
  ctx.set(rateLimitHeaders(decision));
  if (decision.allowed) return;
  metrics.rateLimitRejections.inc({ limiter: decision.limiter });
  ctx.set({ 'Retry-After': String(decision.retryAfterSeconds) });
  throw oauthRateLimitError(decision);
}

/**
 * The per-client limit of the token endpoint (docs/reference.md §5), one for both ways a token
 * request is answered: the engine's grants (`limitTokenRequestsPerClient` below) and the
 * client-credentials fast path in front of the engine (src/oidc/client_credentials_fast_path.ts).
 * `peek` reads a client's standing without counting; `count` counts one request and gives the
 * response's rate-limit fields (with RATE_LIMIT_DISABLED: the configured quota, nothing counted).
 * Exempt clients get neither.
 */
export function clientTokenLimit(services: RateLimitDependencies, exempt: ClientExemption = () => false) {
  const { rateLimits } = services;
  return {
    peek(clientId: string): Promise<RateLimitDecision | undefined> {
      // RATE_LIMIT_DISABLED: nothing is refused, so there is no standing to peek at.
      if (rateLimits.disabled || exempt(clientId)) return Promise.resolve(undefined);
      return rateLimits.peekClient(clientId);
    },
    async count(clientId: string): Promise<Record<string, string> | undefined> {
      if (exempt(clientId)) return undefined;
      return rateLimitHeaders(await rateLimits.consumeClient(clientId));
    },
  };
}

export type PerClientTokenLimit = ReturnType<typeof clientTokenLimit>;

/**
 * Per-client limits for oidc-provider's token endpoint, where the client is only known inside the
 * provider's own middleware chain:
 *
 * - before: the client's standing is peeked (not counted) when client authentication looks the
 *   client up (`Client.find` in the token route). Over the limit → 429 `rate_limit_exceeded`
 *   before the secret is checked or anything is minted. Peeking with the claimed ID lets nobody
 *   use up another client's quota.
 * - after: a request whose client authenticated counts one, and the response carries the
 *   X-RateLimit-* / RateLimit fields. Failed client authentication (401) does not count.
 *
 * Between the peek and the count concurrent requests can overshoot by their number; limits are
 * a throttle, not an accounting system. Call once, right after constructing the provider:
 * `limitTokenRequestsPerClient(provider, services, clientTokenLimit(services, (id) => id === 'keyport-api-key'))`.
 */
export function limitTokenRequestsPerClient(provider: Provider, services: RateLimitDependencies, limit: PerClientTokenLimit): void {
  // RATE_LIMIT_DISABLED: the lookup is not wrapped in an async step at all (`peek` would say "not limited" anyway).
  wrapClientFind(provider, (id, find) => (services.rateLimits.disabled ? find(id) : findCheckingClientLimit(id, find)));

  async function findCheckingClientLimit(id: string, find: ClientFind): Promise<EngineClient | undefined> {
    const client = await find(id);
    const ctx = (Provider as unknown as { ctx?: TokenContext }).ctx;
    if (!client || !ctx || ctx[CHECKED] || ctx.oidc?.route !== 'token') return client;
    // Only the first lookup of the request is client authentication.
    ctx[CHECKED] = true;
    const standing = await limit.peek(id);
    if (standing && !standing.allowed) enforceOAuthRateLimit(ctx, standing, services.metrics);
    return client;
  }

  // A plain function for every other path (each engine request passes here; an async step would
  // cost promises for nothing).
  provider.use(function countTokenRequestsPerClient(ctx, next) {
    if (ctx.path !== ROUTES.token) return next();
    return next().then(() => countRequest(ctx as unknown as TokenContext));
  });

  async function countRequest(ctx: TokenContext): Promise<void> {
    const { oidc } = ctx;
    if (oidc?.route !== 'token' || !oidc.client || ctx.status === 401 || ctx.status === 429) return;
    const fields = await limit.count(oidc.client.clientId);
    if (fields) ctx.set(fields);
  }
}

/**
 * The limits of the RFC 8693 grant with an API key as subject (docs/reference.md §5), as the grant's step
 * options: an address that keeps failing key checks is refused before its key is looked at, each
 * unknown key counts against its address, and an authenticated key counts against its own windows.
 */
export function apiKeyExchangeLimits(services: RateLimitDependencies) {
  const { rateLimits, metrics } = services;
  return {
    beforeKeyAuthentication: [async function refuseKeyGuessers(ctx: KoaContextWithOIDC): Promise<void> {
      const standing = await rateLimits.checkFailedKeyIp(ctx.ip);
      if (!standing.allowed) enforceOAuthRateLimit(ctx, standing, metrics);
    }],
    onKeyRefused: async (ctx: KoaContextWithOIDC, reason: string): Promise<void> => {
      // Only unknown or malformed keys look like guessing; expired and revoked keys are known ones.
      if (reason === 'invalid') await rateLimits.consumeFailedKeyIp(ctx.ip);
    },
    afterKeyAuthentication: [async function limitSubjectKey(ctx: KoaContextWithOIDC, request: { apiKey?: { key: ApiKeyRecord } }): Promise<void> {
      if (request.apiKey) enforceOAuthRateLimit(ctx, await rateLimits.consumeApiKey(apiKeySubject(request.apiKey.key)), metrics);
    }],
  };
}

/**
 * One use of an API key inside the engine that is not an exchange (the refresh grant of an API-key
 * session, docs/reference.md §3/§5): counts against the key's windows, 429 in the OAuth error format when over.
 */
export function apiKeyUseLimit(services: RateLimitDependencies) {
  return async function limitApiKeyUse(ctx: KoaContextWithOIDC, subject: ApiKeySubject): Promise<void> {
    enforceOAuthRateLimit(ctx, await services.rateLimits.consumeApiKey(subject), services.metrics);
  };
}

/**
 * Introspection by a caller that does not authenticate (a public client: `client_id` only) counts
 * against the caller's address (`introspection_ip`, RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP a
 * minute); over it, 429 in the OAuth error format. Set as `services.oidc.publicIntrospectionLimit`.
 */
export function publicIntrospectionLimit(services: RateLimitDependencies) {
  return async function limitPublicIntrospection(ctx: KoaContextWithOIDC): Promise<void> {
    enforceOAuthRateLimit(ctx, await services.rateLimits.consumePublicIntrospectionIp(ctx.ip), services.metrics);
  };
}
