import type { Config } from '../../config/config.js';
import { isLegacyAgentId, legacyAgentIdWarning } from '../../keys/agent_ids.js';
import type { KeyServices } from '../../keys/index.js';
import { apiKeyJson } from '../../keys/presenters.js';
import type { Middleware } from '../../http/context.js';
import { actionContext, authenticateAdmin, type AdminAuthServices } from '../bearer_auth.js';
import { RotateKeyBody, keyOptions } from '../dtos/keys.js';
import { AgentTokenBody } from '../dtos/agent_tokens.js';
import { created, readBody, readEmptyBody, readEmptyQuery } from '../http.js';
import type { AdminRouter, AdminRouteStep } from '../route_types.js';

/** What `/admin/agents/:id/token` reaches: the agent-token service, and the default rate limits the token's key shows. */
export interface AdminAgentTokenRouteServices {
  readonly keys: Pick<KeyServices, 'agentTokens'>;
  readonly config: Pick<Config, 'rateLimit'>;
}

const revokeAgentToken: AdminRouteStep<AdminAgentTokenRouteServices> = async function revokeAgentToken(ctx) {
  readEmptyBody(ctx);
  const { key, alreadyRevoked } = await ctx.services.keys.agentTokens.revoke(ctx.params.id!, actionContext(ctx));
  ctx.body = { key: apiKeyJson(key, ctx.services.config.rateLimit), already_revoked: alreadyRevoked };
};

/**
 * `/admin/agents/:id/token`: the admin API twin of `agent:token:create|show|rotate|revoke`. The
 * token is an API key (`key_…`), so `/admin/keys/:id` shows, rotates and revokes it as well.
 */
export function agentTokenRoutes<S extends AdminAgentTokenRouteServices & AdminAuthServices>(router: AdminRouter<S>): void {
  router.get('/agents/:id/token', ...authenticateAdmin, async function showAgentToken(ctx) {
    readEmptyQuery(ctx);
    // As agent:token:show --json: `key` is null when the agent has no token (404 only for an unknown agent).
    const token = await ctx.services.keys.agentTokens.current(ctx.params.id!);
    ctx.body = { key: token ? apiKeyJson(token, ctx.services.config.rateLimit) : null };
  });

  router.post('/agents/:id/token', ...authenticateAdmin, async function createAgentToken(ctx) {
    const body = readBody(ctx, AgentTokenBody);
    const minted = await ctx.services.keys.agentTokens.create(ctx.params.id!, keyOptions(body, { name: body.name, contactEmail: body.contact_email }), actionContext(ctx));
    created(ctx, `/admin/keys/${minted.key.id}`, { key: apiKeyJson(minted.key, ctx.services.config.rateLimit), agent_token: minted.apiKey });
  });

  router.post('/agents/:id/token/rotate', ...authenticateAdmin, async function rotateAgentToken(ctx) {
    const body = readBody(ctx, RotateKeyBody);
    const rotated = await ctx.services.keys.agentTokens.rotate(ctx.params.id!, { grace: body.grace }, actionContext(ctx));
    const { rateLimit } = ctx.services.config;
    created(ctx, `/admin/keys/${rotated.key.id}`, {
      key: apiKeyJson(rotated.key, rateLimit),
      agent_token: rotated.apiKey,
      previous_key: apiKeyJson(rotated.previous, rateLimit),
    });
  });

  router.post('/agents/:id/token/revoke', ...authenticateAdmin, revokeAgentToken);
  router.delete('/agents/:id/token', ...authenticateAdmin, revokeAgentToken);
}

/**
 * Agent ids in the legacy `agt_…` form (in the path or `agent_id`) still resolve for one release;
 * the answer says so with `Deprecation: true` and a `Warning: 299` (RFC 9745, RFC 7234 §5.5).
 */
export const warnLegacyAgentIds: Middleware<unknown> = async function warnLegacyAgentIds(ctx, next) {
  const fromPath = /^\/admin\/agents\/([^/]+)/.exec(ctx.path)?.[1];
  const fromQuery = typeof ctx.query.agent_id === 'string' ? ctx.query.agent_id : undefined;
  const warn = (value: string): void => {
    ctx.set('Deprecation', 'true');
    ctx.set('Warning', `299 - ${JSON.stringify(legacyAgentIdWarning(value).replace(/"/g, "'"))}`);
  };
  for (const value of [fromPath, fromQuery]) if (isLegacyAgentId(value)) warn(value);
  await next();
  const body = (ctx.request as { body?: unknown }).body as { agent_id?: unknown } | undefined;
  if (body && typeof body === 'object' && isLegacyAgentId(body.agent_id)) warn(body.agent_id);
};

