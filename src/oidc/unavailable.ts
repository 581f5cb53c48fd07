import type { DatabaseHealth } from '../db/health.js';
import { toKeyportError } from '../http/error_handler.js';
import { OUTAGE_RETRY_AFTER_SECONDS } from '../lib/errors.js';
import type { Provider } from './engine/index.js';

/** The koa context surface the RFC 6749 answer needs (Keyport's or the engine's context). */
interface ResponseContext {
  status: number;
  body: unknown;
  set(field: string, value: string): void;
  response: { is(type: string): string | false | null };
}

/**
 * docs/reference.md §4's service_unavailable in RFC 6749 form, for the engine's endpoints: 503
 * `temporarily_unavailable` with Retry-After. HTML pages (the engine's error page) keep their body.
 */
export function renderTemporarilyUnavailable(ctx: ResponseContext, retryAfterSeconds = OUTAGE_RETRY_AFTER_SECONDS): void {
  ctx.status = 503;
  ctx.set('Retry-After', String(retryAfterSeconds));
  ctx.set('Cache-Control', 'no-store');
  if (!ctx.response.is('html')) {
    ctx.body = { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable; retry shortly.' };
  }
}

/**
 * The engine turns any failure into 500 server_error. When the cause is the database being
 * unreachable, stalled or refusing writes, Keyport answers 503 temporarily_unavailable with
 * Retry-After instead, so clients retry and monitoring can tell an outage from a bug. Redirects
 * (errors sent back to the client) are left alone. The request budget's own answer on these paths
 * is the same (src/http/deadline.ts).
 */
export function answerUnavailableDuringOutage(provider: Provider, database: { readonly dataSource: { readonly isInitialized: boolean }; readonly health: DatabaseHealth }): void {
  const outage = new WeakSet<object>();
  provider.on('server_error', (ctx, err) => {
    database.health.observe(err);
    if (!database.dataSource.isInitialized || toKeyportError(err).code === 'service_unavailable') outage.add(ctx);
  });

  provider.use(function temporarilyUnavailable(ctx, next) {
    return next().then(() => {
      if (outage.has(ctx) && ctx.status === 500) renderTemporarilyUnavailable(ctx);
    });
  });
}
