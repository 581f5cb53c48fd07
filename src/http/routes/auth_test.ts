import Router from '@koa/router';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { effectiveRateLimits } from '../../keys/rate_limits.js';
import { agentJson } from '../../keys/presenters.js';
import type { ApiKeyRecord } from '../../keys/index.js';
import { authenticateApiKey, requireAuthentication } from '../api_key_auth.js';
import type { KeyportContext } from '../context.js';
import { validateBody } from '../validate.js';

export interface RateLimitStatus {
  limit: number;
  remaining: number;
  /** Epoch seconds when the current window resets. */
  reset: number;
}

/**
 * The `rate_limit` member of `/auth/test`. Until the rate-limit feature replaces this function
 * with real counters it reports the key's per-minute limit (override or default), untouched.
 */
export async function rateLimitStatus(ctx: KeyportContext, key: ApiKeyRecord): Promise<RateLimitStatus> {
  const limits = effectiveRateLimits(key, ctx.services.config.rateLimit);
  return { limit: limits.perMinute, remaining: limits.perMinute, reset: Math.ceil(Date.now() / 60_000) * 60 };
}

/** The only field POST /auth/test takes. */
class AuthTestBody {
  @IsOptional() @IsString() @MaxLength(256)
  api_key?: string;
}

/** Unknown fields and non-string keys are a 400, as on every route with a body. */
async function validateAuthTestBody(ctx: KeyportContext, next: () => Promise<unknown>): Promise<void> {
  const body = (ctx.request as { body?: unknown }).body;
  if (body !== undefined && !(typeof body === 'object' && body !== null && Object.keys(body).length === 0)) await validateBody(AuthTestBody, body);
  await next();
}

async function describeCaller(ctx: KeyportContext): Promise<void> {
  const { key, agent } = ctx.state.apiKey!;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = {
    authenticated: true,
    agent: agentJson(agent),
    key: { id: key.id, prefix: key.prefix, env: key.env, access_type: key.accessType, name: key.name, expires_at: key.expiresAt?.toISOString() ?? null },
    scopes: [...key.scopes],
    rate_limit: await rateLimitStatus(ctx, key),
  };
}

/**
 * `GET /auth/test` (SPEC §3): who am I, with which key, scopes and limits. POST answers the same,
 * for clients that present the key as the JSON body field `api_key` (bodies of GET requests are
 * not parsed).
 */
export function authTestRoutes(): Router<KeyportContext['state'], KeyportContext> {
  const router = new Router<KeyportContext['state'], KeyportContext>();

  router.get('/auth/test', authenticateApiKey({ optional: true }), requireAuthentication, describeCaller);
  router.post('/auth/test', validateAuthTestBody, authenticateApiKey({ optional: true }), requireAuthentication, describeCaller);

  return router;
}
