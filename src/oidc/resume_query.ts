import { ROUTES } from './configuration.js';
import type { Provider } from './engine.js';

/** The engine's resume route, `GET /oauth/authorize/:uid` (where the login page hands back). */
const RESUME_PATH = new RegExp(`^${ROUTES.authorization}/[^/]+$`);

/**
 * The resume route takes its parameters from the stored interaction, never from the query. But
 * when it fails (an unknown or expired uid) the engine's authorization error handler falls back
 * to the query's `client_id` and, for a client with one redirect URI, reads `redirect_uri` from
 * parameters that do not exist: a TypeError and a 500 (oidc-provider 9.13,
 * shared/authorization_error_handler.js → oneRedirectUriClients; found by the fuzz suite). The
 * query string of that route is dropped before the engine sees it, so the failure is the
 * engine's ordinary 400 page.
 */
export function ignoreQueryOnResume(provider: Provider): void {
  provider.use(async function ignoreQueryOnResume(ctx, next) {
    if (ctx.querystring !== '' && RESUME_PATH.test(ctx.path)) ctx.querystring = '';
    await next();
  });
}
