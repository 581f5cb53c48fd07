import type { KeyportContext, Middleware } from './context.js';

/** The route template, never the raw path, so label cardinality stays bounded. */
function routeLabel(ctx: KeyportContext): string {
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  if (ctx.state.routeName) return ctx.state.routeName;
  if (typeof matched === 'string') return matched;
  const oidcRoute = (ctx as unknown as { oidc?: { route?: unknown } }).oidc?.route;
  if (typeof oidcRoute === 'string') return `oidc:${oidcRoute}`;
  return 'unmatched';
}

export const recordMetrics: Middleware = async function recordMetrics(ctx, next) {
  const { metrics } = ctx.services;
  const started = process.hrtime.bigint();
  try {
    await next();
  } finally {
    const route = routeLabel(ctx);
    metrics.httpRequests.inc({ route, method: ctx.method, status: String(ctx.status) });
    metrics.httpDuration.observe({ route, method: ctx.method }, Number(process.hrtime.bigint() - started) / 1e9);
  }
};
