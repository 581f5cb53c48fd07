import Router from '@koa/router';
import type { KeyportContext } from '../context.js';

/** `/healthz` (process up), `/readyz` (database reachable), `/metrics` (Prometheus text). SPEC §9. */
export function operationsRoutes(): Router<KeyportContext['state'], KeyportContext> {
  const router = new Router<KeyportContext['state'], KeyportContext>();

  router.get('/healthz', async function healthz(ctx) {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async function readyz(ctx) {
    ctx.set('Cache-Control', 'no-store');
    const database = await ctx.services.database.ping();
    ctx.status = database ? 200 : 503;
    ctx.body = database
      ? { status: 'ready', checks: { database: 'ok' } }
      : { error: { code: 'service_unavailable', message: 'The database is unreachable.', request_id: ctx.state.requestId }, checks: { database: 'unreachable' } };
  });

  router.get('/metrics', async function metrics(ctx) {
    const { registry } = ctx.services.metrics;
    ctx.set('Content-Type', registry.contentType);
    ctx.body = await registry.metrics();
  });

  return router;
}
