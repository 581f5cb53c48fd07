import Router from '@koa/router';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { agentJson } from '../../keys/presenters.js';
import type { ApiKeyRecord, KeyServices } from '../../keys/index.js';
import { authenticateApiKey, authenticateBearerToken, requireAuthentication, type ApiKeyAuthServices, type BearerTokenAuthServices } from '../api_key_auth.js';
import type { KeyportContext, KeyportRouter } from '../context.js';
import { validateBody } from '../validate.js';
import { apiKeySubject, guardKeyGuessing, limitApiKey, rateLimitSummary, type ApiKeyLimitServices, type KeyGuessingGuardServices } from '../../ratelimit/index.js';
import type { RateLimits } from '../../ratelimit/service.js';

/**
 * What describing the caller reaches: the key and agent behind an exchanged token, the key's rate-limit
 * standing.
 */
export interface AuthTestRouteServices {
  readonly keys: Pick<KeyServices, 'apiKeys' | 'agents'>;
  readonly rateLimits: Pick<RateLimits, 'peekApiKey'>;
}

/** The route's services: its own step's and those of the authentication and limits it mounts. */
type AuthTestRoutesNeed = AuthTestRouteServices & ApiKeyAuthServices & BearerTokenAuthServices & ApiKeyLimitServices & KeyGuessingGuardServices;

type AuthTestContext = KeyportContext<AuthTestRouteServices>;

/**
 * The `rate_limit` member of `/auth/test`: the numbers of this request's own decision when the
 * key was presented (and counted), otherwise the key's standing without counting (a bearer token
 * exchanged from it).
 */
async function rateLimitStatus(ctx: AuthTestContext, key: ApiKeyRecord): Promise<{ limit: number; remaining: number; reset: number }> {
  return rateLimitSummary(ctx.state.rateLimit ?? await ctx.services.rateLimits.peekApiKey(apiKeySubject(key)));
}

/** The only field POST /auth/test takes. */
class AuthTestBody {
  @IsOptional() @IsString() @MaxLength(256)
  api_key?: string;
}

/** Unknown fields and non-string keys are a 400, as on every route with a body. */
async function validateAuthTestBody(ctx: KeyportContext<unknown>, next: () => Promise<unknown>): Promise<void> {
  const body = (ctx.request as { body?: unknown }).body;
  if (body !== undefined && !(typeof body === 'object' && body !== null && Object.keys(body).length === 0)) validateBody(AuthTestBody, body);
  await next();
}

function keyJson(key: ApiKeyRecord): Record<string, unknown> {
  return { id: key.id, prefix: key.prefix, env: key.env, access_type: key.accessType, name: key.name, expires_at: key.expiresAt?.toISOString() ?? null };
}

async function describeCaller(ctx: AuthTestContext): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  if (ctx.state.accessToken) {
    await describeTokenCaller(ctx);
    return;
  }
  const { key, agent } = ctx.state.apiKey!;
  ctx.body = {
    authenticated: true,
    agent: agentJson(agent),
    key: keyJson(key),
    scopes: [...key.scopes],
    rate_limit: await rateLimitStatus(ctx, key),
  };
}

/**
 * The same answer for a bearer token: the token's scopes (not the key's), and the key and agent
 * behind it when it was exchanged from an API key; `null` for other tokens (a client's or a
 * user's), with `token` saying whose it is.
 */
async function describeTokenCaller(ctx: AuthTestContext): Promise<void> {
  const token = ctx.state.accessToken!;
  const keyId = token.claims.api_key_id;
  const key = typeof keyId === 'string' ? await ctx.services.keys.apiKeys.find(keyId) : undefined;
  const agent = key ? await ctx.services.keys.agents.get(key.agentId) : undefined;
  ctx.body = {
    authenticated: true,
    agent: agent ? agentJson(agent) : null,
    key: key ? keyJson(key) : null,
    scopes: [...token.scopes],
    rate_limit: key ? await rateLimitStatus(ctx, key) : null,
    token: {
      client_id: token.clientId,
      sub: token.sub,
      expires_at: new Date(token.exp * 1000).toISOString(),
      session_id: typeof token.claims.session_id === 'string' ? token.claims.session_id : null,
    },
  };
}

/**
 * `GET /auth/test` (docs/reference.md §3): who am I, with which key (or bearer token), scopes and limits. POST
 * answers the same, for clients that present the key as the JSON body field `api_key` (bodies of
 * GET requests are not parsed).
 */
export function authTestRoutes<S extends AuthTestRoutesNeed>(): KeyportRouter<S> {
  const router: KeyportRouter<S> = new Router();

  router.get('/auth/test', guardKeyGuessing, authenticateApiKey({ optional: true }), limitApiKey, authenticateBearerToken(), requireAuthentication, describeCaller);
  router.post('/auth/test', guardKeyGuessing, validateAuthTestBody, authenticateApiKey({ optional: true }), limitApiKey, authenticateBearerToken(), requireAuthentication, describeCaller);

  return router;
}
