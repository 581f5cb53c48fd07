import type { Config } from '../../config/config.js';
import { MAX_LIST_LIMIT } from '../../keys/api_keys.js';
import type { KeyServices } from '../../keys/index.js';
import { apiKeyJson } from '../../keys/presenters.js';
import { actionContext, authenticateAdmin, type AdminAuthServices } from '../bearer_auth.js';
import { CreateKeyBody, ListKeysQuery, RotateKeyBody, keyOptions } from '../dtos/keys.js';
import { created, readBody, readEmptyBody, readQuery } from '../http.js';
import type { AdminRouter, AdminRouteStep } from '../route_types.js';

/** What `/admin/keys` reaches: the API key service, and the default rate limits its answers show. */
export interface AdminKeyRouteServices {
  readonly keys: Pick<KeyServices, 'apiKeys'>;
  readonly config: Pick<Config, 'rateLimit'>;
}

/** `POST /admin/keys/:id/revoke`, and `DELETE /admin/keys/:id` as its alias. */
const revokeKey: AdminRouteStep<AdminKeyRouteServices> = async function revokeKey(ctx) {
  readEmptyBody(ctx);
  const { key, alreadyRevoked } = await ctx.services.keys.apiKeys.revoke(ctx.params.id!, actionContext(ctx));
  ctx.body = { key: apiKeyJson(key, ctx.services.config.rateLimit), already_revoked: alreadyRevoked };
};

/**
 * `/admin/keys`: the admin API twin of `key:create`, `key:list`, `key:show`, `key:rotate`,
 * `key:revoke`. Bodies and answers are those of the CLI's `--json`; the key is in the answer once.
 */
export function keyRoutes<S extends AdminKeyRouteServices & AdminAuthServices>(router: AdminRouter<S>): void {
  router.get('/keys', ...authenticateAdmin, async function listKeys(ctx) {
    const query = readQuery(ctx, ListKeysQuery);
    const keys = await ctx.services.keys.apiKeys.list({ agentId: query.agent_id, limit: query.limit === undefined ? MAX_LIST_LIMIT : Number(query.limit) });
    ctx.body = { keys: keys.map((key) => apiKeyJson(key, ctx.services.config.rateLimit)) };
  });

  router.post('/keys', ...authenticateAdmin, async function createKey(ctx) {
    const body = readBody(ctx, CreateKeyBody);
    const minted = await ctx.services.keys.apiKeys.create(body.agent_id, keyOptions(body, { name: body.name, contactEmail: body.contact_email }), actionContext(ctx));
    created(ctx, `/admin/keys/${minted.key.id}`, { key: apiKeyJson(minted.key, ctx.services.config.rateLimit), api_key: minted.apiKey });
  });

  router.get('/keys/:id', ...authenticateAdmin, async function showKey(ctx) {
    const key = await ctx.services.keys.apiKeys.get(ctx.params.id!);
    ctx.body = { key: apiKeyJson(key, ctx.services.config.rateLimit) };
  });

  router.post('/keys/:id/rotate', ...authenticateAdmin, async function rotateKey(ctx) {
    const body = readBody(ctx, RotateKeyBody);
    const rotated = await ctx.services.keys.apiKeys.rotate(ctx.params.id!, { grace: body.grace }, actionContext(ctx));
    const { rateLimit } = ctx.services.config;
    created(ctx, `/admin/keys/${rotated.key.id}`, {
      key: apiKeyJson(rotated.key, rateLimit),
      api_key: rotated.apiKey,
      previous_key: apiKeyJson(rotated.previous, rateLimit),
    });
  });

  router.post('/keys/:id/revoke', ...authenticateAdmin, revokeKey);
  router.delete('/keys/:id', ...authenticateAdmin, revokeKey);
}
