import Router from '@koa/router';
import type { KeyportRouter } from '../../http/context.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFound } from '../../lib/errors.js';
import { VIEWS_DIR } from '../../oidc/views.js';
import { agentClientRoutes } from './agent_clients.js';
import { agentApiAccessRoutes } from './agent_api_access.js';
import { agentRoutes } from './agents.js';
import { auditRoutes } from './audit.js';
import { clientRoutes } from './clients.js';
import { keyListRoutes } from './key_list.js';
import { keyRoutes } from './keys.js';
import { signInRoutes } from './sign_in.js';
import { loadSession, renderPageErrors, requireAdmin, seeOther, startPage } from './steps.js';

/** Read once at start. */
const FAVICON = readFileSync(join(VIEWS_DIR, 'dashboard', 'favicon.svg'));

/**
 * `/dashboard`: server-rendered key management for admin users (docs/reference.md §8). Plain HTML forms that
 * work without JavaScript; every change goes through the same services as the CLI and admin API,
 * which validate and write the audit trail (actor `user:usr_…`, the caller's address).
 */
export function dashboardRoutes(): KeyportRouter {
  // The whole container's router: the sign-in routes still need it (src/dashboard/routes/sign_in.ts);
  // every other route module here declares its own services and sees only those.
  const router: KeyportRouter = new Router({ prefix: '/dashboard' });
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
