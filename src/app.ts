import type Router from '@koa/router';
import Koa from 'koa';
import { adminRoutes } from './admin/router.js';
import { dashboardRoutes } from './dashboard/routes/index.js';
import { exchangeRoutes } from './exchange/routes.js';
import { accessLog } from './http/access_log.js';
import { answerOtherMethods } from './http/allowed_methods.js';
import { parseBody } from './http/body.js';
import type { KeyportContext, Middleware } from './http/context.js';
import { requestDeadline } from './http/deadline.js';
import { cors } from './http/edge/cors.js';
import { trustForwardedProtoOfOwnProxies } from './http/edge/forwarded_proto.js';
import { rejectUndecodableTarget } from './http/edge/request_target.js';
import { requireHttps } from './http/edge/require_https.js';
import { securityHeaders } from './http/edge/security_headers.js';
import { answerAtTurnEnd } from './http/edge/turn_end_answers.js';
import { errorHandler } from './http/error_handler.js';
import { recordMetrics } from './http/metrics.js';
import { requestId } from './http/request_id.js';
import { apiDocsRoutes } from './http/routes/api_docs.js';
import { authTestRoutes } from './http/routes/auth_test.js';
import { interactionRoutes } from './http/routes/interaction.js';
import { operationsRoutes } from './http/routes/operations.js';
import { deriveKey } from './lib/crypto.js';
import { clientCredentialsFastPath } from './oidc/client_credentials_fast_path.js';
import { introspectionFastPath } from './oidc/introspection_fast_path.js';
import type { Services } from './service_container.js';

/** Paths served by oidc-provider, which parses its own bodies and renders RFC 6749 errors. */
export const PROVIDER_PATH_PREFIXES = ['/oauth/', '/.well-known/'] as const;

export function isProviderPath(path: string): boolean {
  return PROVIDER_PATH_PREFIXES.some((prefix) => path.startsWith(prefix));
}

function unlessProviderPath(middleware: Middleware): Middleware {
  return (ctx, next) => (isProviderPath(ctx.path) ? next() : middleware(ctx, next));
}

function onlyProviderPath(middleware: Middleware): Middleware {
  return (ctx, next) => (isProviderPath(ctx.path) ? middleware(ctx, next) : next());
}

/**
 * Keyport's own routers, in the order they are mounted (also what the fuzz suite enumerates).
 * No two serve the same path, so the order only decides how many routers a request passes
 * before its own (each matches the path and reads the host): the API-key routes, which carry
 * the traffic, come first.
 */
export function keyportRouters(): Array<Router<KeyportContext['state'], KeyportContext>> {
  return [exchangeRoutes(), authTestRoutes(), operationsRoutes(), interactionRoutes(), apiDocsRoutes(), adminRoutes(), dashboardRoutes()];
}

/**
 * The edge: the steps every request passes before the engine or a router, in order (the order
 * matters): request ID (in every log line and error) → metrics → access log → answers held to the
 * end of their turn (the hold counted in the metrics and the log) → security headers
 * (on every response, errors included) → error handler (everything below renders through it) →
 * request budget (REQUEST_TIMEOUT_MS: 503 instead of a hang) → HTTPS enforcement (before anything
 * reads the request) → CORS (answers preflights) → URL decoding check → body parsing.
 * bench/micro/edge_chain.ts measures what they cost together.
 */
export function edgeSteps(): Middleware[] {
  return [
    requestId,
    recordMetrics,
    accessLog,
    answerAtTurnEnd,
    securityHeaders,
    errorHandler,
    requestDeadline(isProviderPath),
    requireHttps,
    cors,
    unlessProviderPath(rejectUndecodableTarget),
    unlessProviderPath(parseBody),
  ];
}

/** The koa application: the edge first, then the engine, then Keyport's own routes (each feature contributes its router here). */
export function buildApp(services: Services): Koa<KeyportContext['state'], KeyportContext> {
  const app = new Koa<KeyportContext['state'], KeyportContext>({
    proxy: services.config.trustProxy,
    // The client address is the rightmost X-Forwarded-For entries our own proxies appended;
    // whatever the caller put further left is not trusted (it would pick its rate-limit bucket).
    maxIpsCount: services.config.trustProxyHops,
    keys: [deriveKey(services.config.secret, 'cookie-signing').toString('base64url')],
  });
  trustForwardedProtoOfOwnProxies(app, services.config.trustProxyHops);
  app.context.services = services;
  // koa logs every error it sees to stderr by default; ours are already handled and logged.
  app.silent = true;

  for (const step of edgeSteps()) app.use(step);

  // oidc-provider, mounted at the root; its routes all live under /oauth/ and /.well-known/.
  // Introspection's and client credentials' common cases are answered just in front of it, exactly as it would answer.
  app.use(introspectionFastPath(services.oidc));
  app.use(clientCredentialsFastPath(services.oidc));
  app.use(onlyProviderPath(services.oidc.middleware));

  const routers = keyportRouters();
  // A known path with another method: 405 in the docs/reference.md §4 body (after every router had its turn).
  app.use(answerOtherMethods(routers));
  for (const router of routers) app.use(router.routes());

  return app;
}
