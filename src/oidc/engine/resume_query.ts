import type { Provider } from './modules.js';

/**
 * Seam: a workaround for an engine failure, as pre-middleware (`provider.use`).
 *
 * Under the authorization endpoint the engine serves only its resume route,
 * `GET <authorization>/:uid` (trailing slash too). That route takes its parameters from the stored
 * interaction, never from the query. But when it fails (an unknown or expired uid) the engine's
 * authorization error handler falls back to the query's `client_id` and, for a client with one
 * redirect URI, reads `redirect_uri` from parameters that do not exist: a TypeError and a 500
 * (oidc-provider 9.13, lib/shared/authorization_error_handler.js → oneRedirectUriClients; found by
 * the fuzz suite). The query string of that route is dropped before the engine sees it, so the
 * failure is the engine's ordinary 400 page.
 */
export function ignoreQueryOnResume(provider: Provider, authorizationPath: string): void {
  const resumePrefix = `${authorizationPath}/`;
  // Not async: every engine request passes here, and nothing is left to do afterwards.
  provider.use(function ignoreQueryOnResume(ctx, next) {
    if (ctx.querystring !== '' && ctx.path.startsWith(resumePrefix)) ctx.querystring = '';
    return next();
  });
}
