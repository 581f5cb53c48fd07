import type { AgentRecord, ApiKeyRecord, VerifyFailureReason } from '../keys/index.js';
import { looksLikeApiKey } from '../keys/key_material.js';
import { ExpiredApiKey, InvalidApiKey, InvalidRequest, IpNotAllowed, KeyportError, MissingApiKey, RevokedApiKey } from '../lib/errors.js';
import type { VerifiedAccessToken } from '../oidc/access_tokens.js';
import type { Config } from '../config/config.js';
import type { KeyServices } from '../keys/index.js';
import type { OidcServices } from '../oidc/services.js';
import type { KeyportContext, Middleware } from './context.js';

/** What reading the presented key uses: whether the query string may carry it. */
export interface PresentedKeyServices {
  readonly config: Pick<Config, 'allowQueryApiKey'>;
}

/** What `authenticateApiKey` uses. */
export interface ApiKeyAuthServices extends PresentedKeyServices {
  readonly keys: Pick<KeyServices, 'verifier'>;
}

/** What `authenticateBearerToken` uses. */
export interface BearerTokenAuthServices {
  readonly oidc: Pick<OidcServices, 'accessTokens'>;
}

/** Where a key was found (docs/reference.md §3). */
export type ApiKeySource = 'authorization' | 'x-api-key' | 'body' | 'query';

export interface PresentedApiKey {
  readonly value: string;
  readonly source: ApiKeySource;
}

/** What `authenticateApiKey` leaves on `ctx.state.apiKey` for the handler. */
export interface AuthenticatedApiKey {
  readonly key: ApiKeyRecord;
  readonly agent: AgentRecord;
  readonly source: ApiKeySource;
}

declare module './context.js' {
  interface KeyportState {
    /** Set by `authenticateApiKey` when the request carried a valid API key. */
    apiKey?: AuthenticatedApiKey;
    /** Set by `authenticateBearerToken` when the request carried an active Keyport access token. */
    accessToken?: VerifiedAccessToken;
  }
}

/** The query parameter of docs/reference.md §3, honoured only with ALLOW_QUERY_API_KEY=true. */
export const QUERY_PARAMETER = 'access_token_query';
export const BODY_FIELD = 'api_key';

/** `Authorization: Bearer <credential>`, or undefined. The scheme is case-insensitive (RFC 7235). */
export function bearerCredential(ctx: KeyportContext<unknown>): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(ctx.get('Authorization'));
  return match?.[1];
}

/**
 * An `Authorization: Bearer` credential that is not an API key (e.g. a JWT access token), left
 * for the bearer-token step. Anything starting with `ak_` or `agt_` is judged as an API key instead.
 */
export function bearerToken(ctx: KeyportContext<unknown>): string | undefined {
  const credential = bearerCredential(ctx);
  return credential !== undefined && !looksLikeApiKey(credential) ? credential : undefined;
}

function stringValue(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidRequest(`${what} must be a string.`);
  return value === '' ? undefined : value;
}

/** ?access_token_query=a&access_token_query=a is one key; two different values are ambiguous. */
function queryValue(value: string | string[] | undefined, what: string): string | undefined {
  if (!Array.isArray(value)) return stringValue(value, what);
  const distinct = [...new Set(value)];
  if (distinct.length !== 1) throw new InvalidRequest(`Present the API key once: ${what} is given several times with different values.`);
  return stringValue(distinct[0], what);
}

/**
 * Collects the API key from every place docs/reference.md §3 allows. Several places holding the same value
 * are fine; different values are a 400, never a silent pick. Returns undefined when no key is
 * presented (a non-key bearer token does not count: see `bearerToken`).
 */
export function presentedApiKey(ctx: KeyportContext<PresentedKeyServices>): PresentedApiKey | undefined {
  const found: PresentedApiKey[] = [];
  const bearer = bearerCredential(ctx);
  if (bearer !== undefined && looksLikeApiKey(bearer)) found.push({ value: bearer, source: 'authorization' });
  const header = ctx.get('X-API-Key').trim();
  if (header !== '') found.push({ value: header, source: 'x-api-key' });
  const body = (ctx.request as { body?: unknown }).body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const value = stringValue((body as Record<string, unknown>)[BODY_FIELD], `The body field "${BODY_FIELD}"`);
    if (value !== undefined) found.push({ value, source: 'body' });
  }
  if (ctx.services.config.allowQueryApiKey) {
    const value = queryValue(ctx.query[QUERY_PARAMETER], `The query parameter "${QUERY_PARAMETER}"`);
    if (value !== undefined) found.push({ value, source: 'query' });
  }
  const [first] = found;
  if (!first) return undefined;
  if (found.some((item) => item.value !== first.value)) {
    throw new InvalidRequest(`Different API keys were presented in ${found.map((item) => item.source).join(' and ')}; present one key.`);
  }
  // A key beside a different bearer token is two credentials for one request: refuse to guess.
  if (bearer !== undefined && bearer !== first.value) {
    throw new InvalidRequest('Both an API key and a bearer token were presented; present one credential.');
  }
  return first;
}

/** Maps a verification failure to its docs/reference.md §4 error. */
export function verificationError(reason: VerifyFailureReason): KeyportError {
  switch (reason) {
    case 'missing': return new MissingApiKey();
    case 'invalid': return new InvalidApiKey();
    case 'expired': return new ExpiredApiKey();
    case 'revoked': return new RevokedApiKey();
    case 'ip_not_allowed': return new IpNotAllowed();
  }
}

/**
 * Verifies the presented API key (through `services.keys.verifier`) and sets `ctx.state.apiKey`.
 * With `optional: true` a request without an API key passes through unauthenticated, so a later
 * step (bearer tokens) can authenticate it; `requireAuthentication` then closes the chain.
 */
export function authenticateApiKey(options: { optional?: boolean } = {}): Middleware<ApiKeyAuthServices> {
  return async function authenticateApiKeyStep(ctx, next) {
    const presented = presentedApiKey(ctx);
    if (!presented) {
      if (options.optional) return next();
      throw missingCredentialError(ctx);
    }
    const result = await ctx.services.keys.verifier.verify(presented.value, ctx.ip);
    if (!result.ok) throw verificationError(result.reason);
    ctx.state.apiKey = { key: result.key, agent: result.agent, source: presented.source };
    return next();
  };
}

/** RFC 6750 §3: a refused bearer token says so in WWW-Authenticate. */
function invalidBearerToken(): KeyportError {
  return new KeyportError('invalid_token', undefined, { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
}

/**
 * Accepts an `Authorization: Bearer` access token (a JWT from the API-key exchange or any other
 * Keyport access token, opaque included) when no API key authenticated the request: verified by
 * `services.oidc.accessTokens.verify` (signature, expiry, revocation of the token, its grant,
 * session and key). Sets `ctx.state.accessToken`; an invalid, expired or revoked token is 401
 * invalid_token at once. Without a bearer token it passes, for `requireAuthentication` to decide.
 */
export function authenticateBearerToken(): Middleware<BearerTokenAuthServices> {
  return async function authenticateBearerTokenStep(ctx, next) {
    if (ctx.state.apiKey) return next();
    const token = bearerToken(ctx);
    if (token === undefined) return next();
    const verified = await ctx.services.oidc.accessTokens.verify(token);
    if (!verified) throw invalidBearerToken();
    ctx.state.accessToken = verified;
    return next();
  };
}

function missingCredentialError(ctx: KeyportContext<PresentedKeyServices>): KeyportError {
  if (bearerToken(ctx) !== undefined) return invalidBearerToken();
  if (!ctx.services.config.allowQueryApiKey && ctx.query[QUERY_PARAMETER] !== undefined) {
    return new KeyportError('missing_api_key', `No API key was presented (keys in the query string are off: set ALLOW_QUERY_API_KEY=true to allow "${QUERY_PARAMETER}").`);
  }
  return new MissingApiKey();
}

/**
 * Ends an authentication chain: passes when an earlier step authenticated the request (an API
 * key, or a bearer access token). Otherwise 401: `invalid_token` for an unaccepted bearer token,
 * `missing_api_key` for nothing.
 */
export const requireAuthentication: Middleware<PresentedKeyServices> = async function requireAuthentication(ctx, next) {
  if (!ctx.state.apiKey && !ctx.state.accessToken) throw missingCredentialError(ctx);
  return next();
};
