import Router from '@koa/router';
import type { KeyportContext } from '../http/context.js';
import { noStore } from './http.js';
import { agentRoutes } from './routes/agents.js';
import { agentTokenRoutes, warnLegacyAgentIds } from './routes/agent_tokens.js';
import { clientRoutes } from './routes/clients.js';
import { keyRoutes } from './routes/keys.js';
import { mcpClientRoutes } from './routes/mcp_clients.js';
import type { AdminRouter } from './route_types.js';

export type { AdminRouter, AdminRouteStep } from './route_types.js';

export const ADMIN_PREFIX = '/admin';

/**
 * The admin API (docs/reference.md §7): agents, keys and OAuth clients over JSON, for callers holding an
 * access token with the `admin` scope. Every route is `...authenticateAdmin, handler`; the
 * handlers call the same domain services as the CLI and answer with the same presenters.
 */
export function adminRoutes(): AdminRouter {
  const router: AdminRouter = new Router<KeyportContext['state'], KeyportContext>({ prefix: ADMIN_PREFIX });
  router.use(noStore);
  router.use(warnLegacyAgentIds);
  agentRoutes(router);
  agentTokenRoutes(router);
  keyRoutes(router);
  clientRoutes(router);
  mcpClientRoutes(router);
  return router;
}
