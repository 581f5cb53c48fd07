import Router from '@koa/router';
import { effectiveRateLimits } from '../../keys/rate_limits.js';
import { agentJson } from '../../keys/presenters.js';
import type { ApiKeyRecord } from '../../keys/index.js';
import { authenticateApiKey, requireAuthentication } from '../api_key_auth.js';
import type { KeyportContext } from '../context.js';

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

/** `GET /auth/test` (SPEC §3): who am I, with which key, scopes and limits. */
export function authTestRoutes(): Router<KeyportContext['state'], KeyportContext> {
  const router = new Router<KeyportContext['state'], KeyportContext>();

  router.get('/auth/test', authenticateApiKey({ optional: true }), requireAuthentication, async function describeCaller(ctx) {
    const { key, agent } = ctx.state.apiKey!;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      authenticated: true,
      agent: agentJson(agent),
      key: { id: key.id, prefix: key.prefix, env: key.env, access_type: key.accessType, name: key.name, expires_at: key.expiresAt?.toISOString() ?? null },
      scopes: [...key.scopes],
      rate_limit: await rateLimitStatus(ctx, key),
    };
  });

  return router;
}
