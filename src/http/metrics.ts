import type { Metrics } from '../lib/metrics.js';
import type { KeyportContext, Middleware } from './context.js';

/** What recording a request uses: the request counter and the duration histogram. */
export interface RequestMetricsServices {
  readonly metrics: Pick<Metrics, 'httpRequests' | 'httpDuration'>;
}

/** The route template, never the raw path, so label cardinality stays bounded. */
function routeLabel(ctx: KeyportContext<unknown>): string {
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  if (ctx.state.routeName) return ctx.state.routeName;
  if (typeof matched === 'string') return matched;
  const oidcRoute = (ctx as unknown as { oidc?: { route?: unknown } }).oidc?.route;
  if (typeof oidcRoute === 'string') return `oidc:${oidcRoute}`;
  return 'unmatched';
}

export const recordMetrics: Middleware<RequestMetricsServices> = async function recordMetrics(ctx, next) {
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
