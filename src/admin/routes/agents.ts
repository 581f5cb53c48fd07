import type { Config } from '../../config/config.js';
import { MAX_LIST_LIMIT } from '../../keys/api_keys.js';
import type { KeyServices } from '../../keys/index.js';
import { agentJson, apiKeyJson } from '../../keys/presenters.js';
import { actionContext, authenticateAdmin, type AdminAuthServices } from '../bearer_auth.js';
import { CreateAgentBody, ListAgentsQuery } from '../dtos/agents.js';
import { keyOptions } from '../dtos/keys.js';
import { created, readBody, readEmptyBody, readQuery } from '../http.js';
import type { AdminRouter } from '../route_types.js';

/** What `/admin/agents` reaches: the agent service, the agents' keys, and the default rate limits the keys show. */
export interface AdminAgentRouteServices {
  readonly keys: Pick<KeyServices, 'agents' | 'apiKeys'>;
  readonly config: Pick<Config, 'rateLimit'>;
}

/**
 * `/admin/agents`: the admin API twin of `agent:create`, `agent:list`, `agent:revoke`, plus one
 * agent with its keys. Bodies and answers are those of the CLI's `--json`.
 */
export function agentRoutes<S extends AdminAgentRouteServices & AdminAuthServices>(router: AdminRouter<S>): void {
  router.get('/agents', ...authenticateAdmin, async function listAgents(ctx) {
    const query = readQuery(ctx, ListAgentsQuery);
    // Without a limit, as many as agent:list shows.
    const agents = await ctx.services.keys.agents.list({ status: query.status, limit: query.limit === undefined ? MAX_LIST_LIMIT : Number(query.limit) });
    ctx.body = { agents: agents.map(agentJson) };
  });

  router.post('/agents', ...authenticateAdmin, async function createAgent(ctx) {
    const body = readBody(ctx, CreateAgentBody);
    const { config, keys } = ctx.services;
    // As in agent:create, the contact belongs to the agent and its first key inherits it.
    const agent = await keys.agents.createWithKey(
      { name: body.name, contactEmail: body.contact_email, key: keyOptions(body, { name: body.key_name }), withToken: body.with_token },
      actionContext(ctx),
    );
    // With with_token the secret is the agent access token, named as in agent:create --with-token --json.
    created(ctx, `/admin/agents/${agent.agent.id}`, {
      agent: agentJson(agent.agent),
      key: apiKeyJson(agent.key, config.rateLimit),
      ...(body.with_token ? { agent_token: agent.apiKey } : { api_key: agent.apiKey }),
    });
  });

  router.get('/agents/:id', ...authenticateAdmin, async function showAgent(ctx) {
    const { config, keys } = ctx.services;
    const agent = await keys.agents.get(ctx.params.id!);
    const agentKeys = await keys.apiKeys.list({ agentId: agent.id, limit: MAX_LIST_LIMIT });
    ctx.body = { agent: agentJson(agent), keys: agentKeys.map((key) => apiKeyJson(key, config.rateLimit)) };
  });

  router.post('/agents/:id/revoke', ...authenticateAdmin, async function revokeAgent(ctx) {
    readEmptyBody(ctx);
    const revoked = await ctx.services.keys.agents.revoke(ctx.params.id!, actionContext(ctx));
    ctx.body = { agent: agentJson(revoked.agent), revoked_keys: [...revoked.revokedKeyIds], already_revoked: revoked.alreadyRevoked };
  });
}
