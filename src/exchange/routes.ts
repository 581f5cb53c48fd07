import Router from '@koa/router';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { Config } from '../config/config.js';
import type { ApiKeySession } from '../db/entities/api_key_session.js';
import { authenticateApiKey, verificationError, type ApiKeyAuthServices } from '../http/api_key_auth.js';
import type { KeyportContext, KeyportRouter } from '../http/context.js';
import { validateRequestBody } from '../http/validate.js';
import { guardKeyGuessing, limitApiKey, refuseRequest, setRateLimitHeaders, type ApiKeyLimitServices, type KeyGuessingGuardServices, type RateLimitRefusalServices, type RateLimits } from '../ratelimit/index.js';
import { InvalidDpopProof, InvalidRequest, InvalidToken, NotFound } from '../lib/errors.js';
import { DpopProofError } from '../oidc/dpop.js';
import type { OidcServices } from '../oidc/services.js';
import type { ExchangeResult } from './exchange_result.js';
import type { ApiKeyExchange } from './index.js';
import { keyStateSubject, keyUseRefusal, type KeyState } from './key_states.js';
import { MAX_SCOPE_PARAMETER_LENGTH, parseScopeParameter } from './scopes.js';
import { MAX_SESSION_ID_LENGTH, parseSessionId } from './session_id.js';

type Next = () => Promise<unknown>;

/**
 * What this module's own steps reach: the exchange's session services, the DPoP proof verifier,
 * the issuer (a proof's `htu`) and, for a refresh, the key's rate limit.
 */
export interface ExchangeRouteServices extends RateLimitRefusalServices {
  readonly exchange: Pick<ApiKeyExchange, 'sessionTokens' | 'sessionRefresh' | 'keyLiveness' | 'sessionDirectory'>;
  readonly oidc: Pick<OidcServices, 'dpopProofs'>;
  readonly config: Pick<Config, 'issuer'>;
  readonly rateLimits: Pick<RateLimits, 'consumeApiKey'>;
}

/** The routes' services: their own steps' and those of the key authentication and limits they mount. */
type ExchangeRoutesNeed = ExchangeRouteServices & ApiKeyAuthServices & ApiKeyLimitServices & KeyGuessingGuardServices;

type ExchangeContext = KeyportContext<ExchangeRouteServices>;

declare module '../http/context.js' {
  interface KeyportState {
    /** The validated `/auth/login` request. */
    login?: { sessionId: string; scopes: string[] | undefined; dpopJkt?: string };
    /** The validated `/auth/refresh` request, then its session and the state of the session's key. */
    refresh?: { refreshToken: string; session?: ApiKeySession; key?: KeyState };
  }
}

/** `POST /auth/login` body (docs/reference.md §3). The key may come from a header instead. */
class LoginBody {
  @IsOptional() @IsString() @MaxLength(256)
  api_key?: string;

  // parseSessionId checks the rest (code points, printable); this only bounds the work.
  @IsOptional() @IsString() @MaxLength(MAX_SESSION_ID_LENGTH * 2)
  session_id?: string;

  @IsOptional() @IsString() @MaxLength(MAX_SCOPE_PARAMETER_LENGTH)
  scope?: string;
}

/** `POST /auth/refresh` body. */
class RefreshBody {
  @IsString() @MaxLength(512)
  refresh_token: string;
}

function validateLoginRequest(ctx: KeyportContext<unknown>, next: Next): Promise<unknown> {
  const body = validateRequestBody(ctx, LoginBody);
  ctx.state.login = { sessionId: parseSessionId(body.session_id), scopes: parseScopeParameter(body.scope) };
  return next();
}

async function validateRefreshRequest(ctx: KeyportContext<unknown>, next: Next): Promise<void> {
  const body = validateRequestBody(ctx, RefreshBody);
  if (body.refresh_token.length === 0) throw new InvalidRequest('refresh_token must not be empty.');
  ctx.state.refresh = { refreshToken: body.refresh_token };
  await next();
}

/** The session ID in the path: URL-decoded by the router, then the same rules as in the body. */
function pathSessionId(ctx: KeyportContext<unknown>): string {
  const raw = ctx.params.session_id;
  if (typeof raw !== 'string') throw new InvalidRequest('session_id is missing.');
  return parseSessionId(raw, 'The session ID in the path');
}

/** docs/reference.md §3 answer of `/auth/login` and `/auth/refresh`. */
function tokenResponse(ctx: KeyportContext<unknown>, result: ExchangeResult): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  ctx.body = {
    access_token: result.accessToken,
    token_type: result.tokenType,
    expires_in: Math.max(0, result.expiresAt - Math.floor(Date.now() / 1000)),
    scope: result.scope,
    session_id: result.sessionId ?? null,
    ...(result.refreshToken ? { refresh_token: result.refreshToken } : {}),
  };
}

/**
 * RFC 9449 at `/auth/login`: with a `DPoP` header the token is bound to the proof's key
 * (`cnf.jkt`, `token_type: DPoP`). Checked after the key and its rate limit, so only a
 * caller holding a working key makes Keyport remember a proof's jti (docs/reference.md §3).
 */
async function checkDpopProof(ctx: ExchangeContext, next: Next): Promise<void> {
  const proof = ctx.get('DPoP');
  if (proof) {
    const path = '/auth/login';
    try {
      const verified = await ctx.services.oidc.dpopProofs.verify(proof, {
        method: ctx.method,
        urls: [`${ctx.services.config.issuer}${path}`, `${ctx.protocol}://${ctx.host}${path}`],
        replayScope: `api_key:${ctx.state.apiKey!.key.id}`,
      });
      ctx.state.login!.dpopJkt = verified.jkt;
    } catch (err) {
      if (err instanceof DpopProofError) throw new InvalidDpopProof(err.message);
      throw err;
    }
  }
  await next();
}

async function exchangeKeyForToken(ctx: ExchangeContext): Promise<void> {
  const { key, agent } = ctx.state.apiKey!;
  const { sessionId, scopes, dpopJkt } = ctx.state.login!;
  tokenResponse(ctx, await ctx.services.exchange.sessionTokens.exchangeKey({ key, agent, sessionId, scopes, dpopJkt }));
}

/** The refresh token's API-key session: 401 invalid_token for unknown, used-up or foreign tokens and ended sessions. */
async function findRefreshSession(ctx: ExchangeContext, next: Next): Promise<void> {
  const refresh = ctx.state.refresh!;
  const found = await ctx.services.exchange.sessionRefresh.sessionOfRefreshToken(refresh.refreshToken);
  if (!found) throw new InvalidToken('The refresh token is invalid, expired, already used or revoked.');
  refresh.session = found.session;
  await next();
}

/**
 * A refresh is a use of the key behind the session, judged as `/auth/login` judges the key: 401
 * revoked_api_key / expired_api_key when it (or its agent) stopped working, 403 ip_not_allowed
 * from outside its allow list (the caller's address as everywhere: TRUST_PROXY, TRUST_PROXY_HOPS).
 */
async function checkSessionKey(ctx: ExchangeContext, next: Next): Promise<void> {
  const refresh = ctx.state.refresh!;
  const { state, status } = await ctx.services.exchange.keyLiveness.status(refresh.session!.keyId, { fresh: true });
  if (status !== 'active' || !state) throw verificationError(status === 'expired' ? 'expired' : 'revoked');
  const refusal = keyUseRefusal(state, ctx.ip);
  if (refusal) throw verificationError(refusal);
  refresh.key = state;
  await next();
}

/** …and counts against the key's rate limits (docs/reference.md §5), with the same headers and 429 as `/auth/login`. */
async function limitSessionKey(ctx: ExchangeContext, next: Next): Promise<void> {
  const decision = await ctx.services.rateLimits.consumeApiKey(keyStateSubject(ctx.state.refresh!.key!));
  setRateLimitHeaders(ctx, decision);
  if (!decision.allowed) refuseRequest(ctx, decision);
  await next();
}

async function refreshSessionToken(ctx: ExchangeContext): Promise<void> {
  const { refreshToken, session } = ctx.state.refresh!;
  const result = await ctx.services.exchange.sessionRefresh.refreshSession(session!, refreshToken, { ip: ctx.ip, host: ctx.host, secure: ctx.secure });
  tokenResponse(ctx, result);
}

async function listKeySessions(ctx: ExchangeContext): Promise<void> {
  const { key } = ctx.state.apiKey!;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { sessions: await ctx.services.exchange.sessionDirectory.listSessions({ keyId: key.id }) };
}

async function endKeySession(ctx: ExchangeContext): Promise<void> {
  const { key } = ctx.state.apiKey!;
  const sessionId = pathSessionId(ctx);
  const ended = await ctx.services.exchange.sessionDirectory.endSession(key, sessionId, { actor: `api-key:${key.id}`, ip: ctx.ip });
  if (!ended) throw new NotFound('This key has no live session with that ID.');
  ctx.status = 204;
}

/**
 * Keyport's own API-key exchange endpoints (docs/reference.md §3). Each is a list of named steps: body
 * validation, then key authentication (a per-key rate limit slots in right after it), then the work.
 * DELETE bodies are not read (the body parser skips them), so `DELETE /auth/sessions/…` takes the
 * key from a header (or the query, when allowed).
 */
export function exchangeRoutes<S extends ExchangeRoutesNeed>(): KeyportRouter<S> {
  const router: KeyportRouter<S> = new Router();

  router.post('/auth/login', guardKeyGuessing, validateLoginRequest, authenticateApiKey(), limitApiKey, checkDpopProof, exchangeKeyForToken);
  router.post('/auth/refresh', validateRefreshRequest, findRefreshSession, checkSessionKey, limitSessionKey, refreshSessionToken);
  router.get('/auth/sessions', guardKeyGuessing, authenticateApiKey(), limitApiKey, listKeySessions);
  router.delete('/auth/sessions/:session_id', guardKeyGuessing, authenticateApiKey(), limitApiKey, endKeySession);

  return router;
}
