import Router from '@koa/router';
import type { AdminAuthServices } from './bearer_auth.js';
import { noStore } from './http.js';
import { agentRoutes, type AdminAgentRouteServices } from './routes/agents.js';
import { agentTokenRoutes, warnLegacyAgentIds, type AdminAgentTokenRouteServices } from './routes/agent_tokens.js';
import { clientRoutes, type AdminClientRouteServices } from './routes/clients.js';
import { keyRoutes, type AdminKeyRouteServices } from './routes/keys.js';
import { mcpClientRoutes, type AdminMcpClientRouteServices } from './routes/mcp_clients.js';
import type { AdminRouter } from './route_types.js';

export type { AdminRouter, AdminRouteStep } from './route_types.js';

export const ADMIN_PREFIX = '/admin';

/** Everything the admin API reaches: the bearer-token steps' services and each route module's. */
export type AdminRouteServices = AdminAuthServices & AdminAgentRouteServices & AdminAgentTokenRouteServices & AdminKeyRouteServices & AdminClientRouteServices & AdminMcpClientRouteServices;

/**
 * The admin API (docs/reference.md §7): agents, keys and OAuth clients over JSON, for callers holding an
 * access token with the `admin` scope. Every route is `...authenticateAdmin, handler`; the
 * handlers call the same domain services as the CLI and answer with the same presenters.
 */
export function adminRoutes<S extends AdminRouteServices>(): AdminRouter<S> {
  const router: AdminRouter<S> = new Router({ prefix: ADMIN_PREFIX });
  router.use(noStore);
  router.use(warnLegacyAgentIds);
  agentRoutes(router);
  agentTokenRoutes(router);
  keyRoutes(router);
  clientRoutes(router);
  mcpClientRoutes(router);
  return router;
}
