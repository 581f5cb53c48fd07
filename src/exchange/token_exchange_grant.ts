import { TOKEN_EXCHANGE_GRANT } from '../clients/grant_types.js';
import type { AgentRecord, ApiKeyRecord, KeyServices } from '../keys/index.js';
import { KeyportError } from '../lib/errors.js';
import { DpopProofError, type DpopProofVerifier } from '../oidc/dpop.js';
import { errors, type KoaContextWithOIDC } from '../oidc/engine/index.js';
import { oauthErrorOf } from './errors.js';
import type { AccessTokenExchange } from './access_token_exchange.js';
import type { ExchangeResult } from './exchange_result.js';
import { parseScopeParameter } from './scopes.js';
import { parseSessionId } from './session_id.js';
import type { SessionTokens } from './session_tokens.js';

/** RFC 8693 token types Keyport accepts and issues. */
export const TOKEN_TYPES = {
  /** Keyport's own: an API key as the subject token. */
  apiKey: 'urn:keyport:params:oauth:token-type:api_key',
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

export const grantType = TOKEN_EXCHANGE_GRANT;

/** Parameters of the grant (the engine drops any other); `resource` and `audience` may repeat. */
export const parameters = new Set([
  'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type',
  'scope', 'resource', 'audience', 'session_id',
]);
export const repeatable = ['resource', 'audience'];

const MAX_SUBJECT_TOKEN_LENGTH = 8192;

function single(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new errors.InvalidRequest(`${name} must be given once`);
  return value;
}

/**
 * RFC 8707 `resource` and RFC 8693 `audience` both name where the token will be used; Keyport
 * issues a token for one resource server, so together they may name only one (repeats allowed).
 */
function requestedAudience(params: Record<string, unknown>): string | undefined {
  const values = new Set<string>();
  for (const name of ['resource', 'audience']) {
    const value = params[name];
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'string' && item !== '') values.add(item);
    }
  }
  if (values.size > 1) throw new errors.InvalidTarget('only one audience (resource) per token; exchange again for another');
  return values.values().next().value;
}

/**
 * invalid_grant with the reason shown: the engine's own InvalidGrant hides it (right for codes and
 * refresh tokens), but an API-key holder is told why, as docs/reference.md §4 tells `/auth/login` callers.
 */
export function invalidGrant(description: string): Error {
  return Object.assign(new errors.InvalidGrant(description), { error_description: description });
}

/** The engine's rendering of a domain refusal: RFC 6749 §5.2 body, never a 500. */
function engineErrorFor(err: KeyportError): Error {
  if (err.status >= 500) return err;
  const description = err.message;
  switch (oauthErrorOf(err)) {
    case 'invalid_grant': return invalidGrant(description);
    case 'invalid_scope': return new errors.InvalidScope(description, '');
    case 'invalid_target': return new errors.InvalidTarget(description);
    case 'unauthorized_client': return new errors.UnauthorizedClient(description);
    default: return new errors.InvalidRequest(description);
  }
}

/** RFC 8693 §2.2.1 success response (plus `session_id` for API-key subjects). */
export function tokenExchangeResponse(result: ExchangeResult): Record<string, unknown> {
  return {
    access_token: result.accessToken,
    issued_token_type: TOKEN_TYPES.accessToken,
    token_type: result.tokenType,
    expires_in: Math.max(0, result.expiresAt - Math.floor(Date.now() / 1000)),
    scope: result.scope,
    ...(result.refreshToken ? { refresh_token: result.refreshToken } : {}),
    ...(result.sessionId !== undefined ? { session_id: result.sessionId } : {}),
  };
}

/** What the grant's steps work on, filled in as they go. */
export interface TokenExchangeRequest {
  subjectToken: string;
  subjectTokenType: string;
  scopes: string[] | undefined;
  audience: string | undefined;
  /** Set for API-key subjects by `authenticateSubjectKey`. */
  apiKey?: { key: ApiKeyRecord; agent: AgentRecord; sessionId: string };
  /** RFC 9449: thumbprint of the caller's verified DPoP proof (the issued token is bound to it). */
  dpopJkt?: string;
  result?: ExchangeResult;
}

/** One step of the grant, in the spirit of the engine's own middleware arrays. */
export type TokenExchangeStep = (ctx: KoaContextWithOIDC, request: TokenExchangeRequest) => Promise<void>;

/** Required parameters, their shapes, and what Keyport does not support (RFC 8693 §2.1). */
function readExchangeParameters(ctx: KoaContextWithOIDC): TokenExchangeRequest {
  const params = ctx.oidc.params as Record<string, unknown>;
  const subjectToken = single(params, 'subject_token');
  const subjectTokenType = single(params, 'subject_token_type');
  if (!subjectToken) throw new errors.InvalidRequest('missing required parameter \'subject_token\'');
  if (!subjectTokenType) throw new errors.InvalidRequest('missing required parameter \'subject_token_type\'');
  if (subjectToken.length > MAX_SUBJECT_TOKEN_LENGTH) throw invalidGrant('subject_token is not valid');
  if (single(params, 'actor_token') || single(params, 'actor_token_type')) {
    throw new errors.InvalidRequest('actor_token (delegation) is not supported');
  }
  const requestedType = single(params, 'requested_token_type');
  if (requestedType && requestedType !== TOKEN_TYPES.accessToken && requestedType !== TOKEN_TYPES.jwt) {
    throw new errors.InvalidRequest('requested_token_type must be urn:ietf:params:oauth:token-type:access_token');
  }
  if (![TOKEN_TYPES.apiKey, TOKEN_TYPES.accessToken, TOKEN_TYPES.jwt].includes(subjectTokenType as never)) {
    throw new errors.InvalidRequest('unsupported subject_token_type');
  }
  if (subjectTokenType !== TOKEN_TYPES.apiKey && single(params, 'session_id')) {
    throw new errors.InvalidRequest('session_id applies to API-key subject tokens only');
  }
  return { subjectToken, subjectTokenType, audience: requestedAudience(params), scopes: parseScopeParameter(single(params, 'scope')) };
}

/** An API key as the subject: the one verifier decides (address allow lists included). */
function authenticateSubjectKey(keys: KeyServices, onRefused?: KeyRefusalHook): TokenExchangeStep {
  return async function authenticateSubjectKeyStep(ctx, request) {
    if (request.subjectTokenType !== TOKEN_TYPES.apiKey) return;
    const sessionId = parseSessionId(single(ctx.oidc.params as Record<string, unknown>, 'session_id'));
    const verified = await keys.verifier.verify(request.subjectToken, ctx.ip);
    if (!verified.ok) {
      await onRefused?.(ctx, verified.reason);
      throw invalidGrant(refusalOf(verified.reason));
    }
    request.apiKey = { key: verified.key, agent: verified.agent, sessionId };
  };
}

/**
 * RFC 9449 at the token endpoint, as the engine's own grants do it (lib/helpers/validate_dpop.js):
 * a `DPoP` header is checked (htm, htu = the token endpoint, freshness, jti once per client) and
 * binds the issued token; a client registered with `dpop_bound_access_tokens` (`--require-dpop`)
 * must send one. Errors are the engine's `invalid_dpop_proof` / `invalid_grant`.
 */
function checkDpopProof(dpopProofs: Pick<DpopProofVerifier, 'verify'>): TokenExchangeStep {
  return async function checkDpopProofStep(ctx, request) {
    const client = ctx.oidc.client!;
    const proof = ctx.get('DPoP');
    if (!proof) {
      if ((client as { dpopBoundAccessTokens?: boolean }).dpopBoundAccessTokens) throw new errors.InvalidGrant('DPoP proof JWT not provided');
      return;
    }
    try {
      const verified = await dpopProofs.verify(proof, { method: ctx.method, urls: [ctx.oidc.urlFor('token')], replayScope: client.clientId });
      request.dpopJkt = verified.jkt;
    } catch (err) {
      if (err instanceof DpopProofError) throw new errors.InvalidDpopProof(err.message);
      throw err;
    }
  };
}

/** What the grant hands each kind of subject to: the session tokens of `/auth/login`, or the access-token exchange. */
export interface SubjectExchanges {
  readonly sessionTokens: Pick<SessionTokens, 'exchangeKey'>;
  readonly accessTokenExchange: Pick<AccessTokenExchange, 'exchange'>;
}

/** The shared domain services: a session token for a key, or a narrower token for a token. */
function exchangeSubject(exchanges: SubjectExchanges): TokenExchangeStep {
  return async function exchangeSubjectStep(ctx, request) {
    const client = ctx.oidc.client!;
    const { scopes, audience } = request;
    const { dpopJkt } = request;
    request.result = request.apiKey
      ? await exchanges.sessionTokens.exchangeKey({ ...request.apiKey, scopes, audience, client, dpopJkt })
      : await exchanges.accessTokenExchange.exchange({ subjectToken: request.subjectToken, scopes, audience, client, dpopJkt });
  };
}

async function respondWithIssuedToken(ctx: KoaContextWithOIDC, request: TokenExchangeRequest): Promise<void> {
  ctx.body = tokenExchangeResponse(request.result!);
}

/** Told why an API-key subject was refused, before the refusal is answered (e.g. to slow key guessing). */
export type KeyRefusalHook = (ctx: KoaContextWithOIDC, reason: string) => Promise<void>;

export interface TokenExchangeOptions {
  /** Steps run before an API-key subject is verified: the place to refuse callers that keep guessing keys. */
  readonly beforeKeyAuthentication?: readonly TokenExchangeStep[];
  /** Called when an API-key subject is refused. */
  readonly onKeyRefused?: KeyRefusalHook;
  /**
   * Steps run right after an API-key subject is authenticated (`request.apiKey` is set), before
   * anything is issued: the place for a per-key rate limit. They throw engine errors to refuse.
   */
  readonly afterKeyAuthentication?: readonly TokenExchangeStep[];
  /** Checks `DPoP` headers (RFC 9449); without it a proof is ignored and tokens are bearer tokens. */
  readonly dpopProofs?: Pick<DpopProofVerifier, 'verify'>;
}

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) at the token endpoint.
 * The engine has authenticated the client (or taken `client_id` of a public one) and checked that
 * its grant types include this one; the exchange itself is the domain services' (SubjectExchanges).
 * Domain refusals (docs/reference.md §4 errors) become RFC 6749 errors here.
 */
export function tokenExchangeHandler(exchanges: SubjectExchanges, keys: KeyServices, options: TokenExchangeOptions = {}) {
  const steps: TokenExchangeStep[] = [
    ...(options.beforeKeyAuthentication ?? []),
    authenticateSubjectKey(keys, options.onKeyRefused),
    ...(options.afterKeyAuthentication ?? []),
    ...(options.dpopProofs ? [checkDpopProof(options.dpopProofs)] : []),
    exchangeSubject(exchanges),
    respondWithIssuedToken,
  ];
  return async function tokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    try {
      const request = readExchangeParameters(ctx);
      for (const step of steps) await step(ctx, request);
    } catch (err) {
      if (err instanceof KeyportError) throw engineErrorFor(err);
      throw err;
    }
  };
}

/** Why an API key was refused, for `error_description` (RFC 6749 errors carry no docs/reference.md §4 code). */
export function refusalOf(reason: string): string {
  switch (reason) {
    case 'expired': return 'the API key has expired';
    case 'revoked': return 'the API key has been revoked';
    case 'ip_not_allowed': return "the caller's address is not on the API key's allow list";
    default: return 'the API key is invalid';
  }
}
