import Router from '@koa/router';
import type { KeyportRouter } from '../../http/context.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFound } from '../../lib/errors.js';
import { VIEWS_DIR } from '../../oidc/views.js';
import { agentClientRoutes, type DashboardAgentClientRouteServices } from './agent_clients.js';
import { agentApiAccessRoutes, type DashboardAgentApiAccessRouteServices } from './agent_api_access.js';
import { agentRoutes, type DashboardAgentRouteServices } from './agents.js';
import { auditRoutes, type DashboardAuditRouteServices } from './audit.js';
import { clientRoutes, type DashboardClientRouteServices } from './clients.js';
import { keyListRoutes, type DashboardKeyListRouteServices } from './key_list.js';
import { keyRoutes, type DashboardKeyRouteServices } from './keys.js';
import { signInRoutes, type DashboardSignInRouteServices } from './sign_in.js';
import { loadSession, renderPageErrors, requireAdmin, seeOther, startPage, type DashboardStepServices } from './steps.js';
import type { PasswordSignInServices } from '../../http/password_sign_in.js';

/** What the dashboard's routes use: each module's own services (and the steps' they mount). */
export type DashboardRoutesNeed = DashboardStepServices & DashboardSignInRouteServices & PasswordSignInServices & DashboardAgentRouteServices
  & DashboardKeyListRouteServices & DashboardAgentApiAccessRouteServices & DashboardKeyRouteServices & DashboardClientRouteServices
  & DashboardAgentClientRouteServices & DashboardAuditRouteServices;

/** Read once at start. */
const FAVICON = readFileSync(join(VIEWS_DIR, 'dashboard', 'favicon.svg'));

/**
 * `/dashboard`: server-rendered key management for admin users (docs/reference.md §8). Plain HTML forms that
 * work without JavaScript; every change goes through the same services as the CLI and admin API,
 * which validate and write the audit trail (actor `user:usr_…`, the caller's address).
 */
export function dashboardRoutes<S extends DashboardRoutesNeed>(): KeyportRouter<S> {
  const router: KeyportRouter<S> = new Router({ prefix: '/dashboard' });
  router.use(startPage, renderPageErrors, loadSession);

  // The tab icon of every dashboard page (and of the sign-in and consent pages): public, cacheable.
  router.get('/favicon.svg', async function favicon(ctx) {
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.type = 'image/svg+xml';
    ctx.body = FAVICON;
  });
  router.get('/', requireAdmin, async function dashboardHome(ctx) {
    seeOther(ctx, '/dashboard/agents');
  });
  signInRoutes(router);
  agentRoutes(router);
  keyListRoutes(router);
  agentApiAccessRoutes(router);
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
