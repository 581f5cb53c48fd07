import Router from '@koa/router';
import type { KeyportContext } from '../../http/context.js';
import { NotFound } from '../../lib/errors.js';
import { agentClientRoutes } from './agent_clients.js';
import { agentRoutes } from './agents.js';
import { auditRoutes } from './audit.js';
import { clientRoutes } from './clients.js';
import { keyRoutes } from './keys.js';
import { signInRoutes } from './sign_in.js';
import { loadSession, renderPageErrors, requireAdmin, seeOther, startPage } from './steps.js';

/**
 * `/dashboard`: server-rendered key management for admin users (docs/reference.md §8). Plain HTML forms that
 * work without JavaScript; every change goes through the same services as the CLI and admin API,
 * which validate and write the audit trail (actor `user:usr_…`, the caller's address).
 */
export function dashboardRoutes(): Router<KeyportContext['state'], KeyportContext> {
  const router = new Router<KeyportContext['state'], KeyportContext>({ prefix: '/dashboard' });
  router.use(startPage, renderPageErrors, loadSession);

  router.get('/', requireAdmin, async function dashboardHome(ctx) {
    seeOther(ctx, '/dashboard/agents');
  });
  signInRoutes(router);
  agentRoutes(router);
  keyRoutes(router);
  clientRoutes(router);
  agentClientRoutes(router);
  auditRoutes(router);

  // Anything else under /dashboard gets a page too, not the JSON 404 of the API.
  router.all('/{*rest}', async function dashboardNotFound(ctx) {
    throw new NotFound(`There is no dashboard page at ${ctx.path}.`);
  });
  return router;
}
