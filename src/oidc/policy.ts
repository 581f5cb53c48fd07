import type { Config } from '../config/config.js';

/**
 * Lifetimes and vocabularies Keyport applies to the engine. Kept in one place because the signing
 * key rotation window and the revocation registry depend on the longest token lifetime.
 */

/** Scopes oidc-provider handles itself (ID token / userinfo). Every other scope is an API scope. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'email'] as const;

/** RFC 6749 §3.3 scope-token. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/** The only JWS algorithm Keyport signs with. */
export const SIGNING_ALG = 'ES256';

/** Access tokens for the default audience and for resource servers without their own TTL. */
export const DEFAULT_ACCESS_TOKEN_TTL = 3600;
/** Upper bound of a resource server's access-token TTL (`resource:create --ttl`). */
export const MAX_RESOURCE_SERVER_TTL = 86_400;

export const TTL = {
  AuthorizationCode: 60,
  IdToken: 3600,
  Interaction: 3600,
  RefreshToken: 14 * 86_400,
  Session: 14 * 86_400,
  Grant: 14 * 86_400,
  DeviceCode: 600,
  BackchannelAuthenticationRequest: 600,
  PreAuthorizedCode: 600,
} as const;

/** The engine's clock tolerance (seconds); also used when Keyport verifies its own JWTs. */
export const CLOCK_TOLERANCE = 15;

/** The longest an access token Keyport issues can live: exchanged tokens use TOKEN_TTL. */
export function maxAccessTokenTtl(config: Pick<Config, 'tokenTtl'>): number {
  return Math.max(DEFAULT_ACCESS_TOKEN_TTL, MAX_RESOURCE_SERVER_TTL, config.tokenTtl, TTL.IdToken);
}

/**
 * How long a retired signing key stays in the JWKS: every token it signed must have expired first,
 * plus clock tolerance and a margin for caches of resource servers.
 */
export function keyRetentionSeconds(config: Pick<Config, 'tokenTtl'>): number {
  return maxAccessTokenTtl(config) + CLOCK_TOLERANCE + 300;
}

export function isOidcScope(scope: string): boolean {
  return (OIDC_SCOPES as readonly string[]).includes(scope);
}

export function splitScope(scope: string | null | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter(Boolean))];
}

/**
 * Client metadata property carrying the API scopes (non-OIDC scopes) a client may receive in
 * access tokens. Built-in clients registered with `clients.registerBuiltIn` set it too.
 */
export const API_SCOPE_METADATA = 'keyport_api_scope';
