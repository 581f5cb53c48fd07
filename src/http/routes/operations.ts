import Router from '@koa/router';
import type { Database } from '../../db/database.js';
import type { DatabaseReadiness } from '../../db/health.js';
import type { CircuitBreaker } from '../../lib/circuit_breaker.js';
import type { Lifecycle } from '../../lib/lifecycle.js';
import type { Metrics } from '../../lib/metrics.js';
import type { RedisClient } from '../../lib/redis.js';
import type { KeyportContext, KeyportRouter } from '../context.js';

/** What `/healthz`, `/readyz` and `/metrics` reach: readiness inputs and the metrics registry. */
export interface OperationsRouteServices {
  readonly lifecycle: Pick<Lifecycle, 'draining'>;
  readonly database: Pick<Database, 'health'>;
  readonly redis: Pick<RedisClient, 'status'> | undefined;
  readonly redisBreaker: Pick<CircuitBreaker, 'allowsCalls'> | undefined;
  readonly metrics: Pick<Metrics, 'registry'>;
}

/** What `/readyz` says about Redis: `degraded` while the circuit is open or the client is not connected. */
export type RedisReadiness = 'ok' | 'degraded';

const NOT_READY_MESSAGES: Record<Exclude<DatabaseReadiness, 'ok'>, string> = {
  unreachable: 'The database is unreachable.',
  writes_failing: 'The database refuses writes (disk full or read-only).',
};

/** Retry-After of a draining instance: another instance can answer at once. */
const DRAINING_RETRY_AFTER_SECONDS = 1;

function redisReadiness(ctx: KeyportContext<OperationsRouteServices>): RedisReadiness | undefined {
  const { redis, redisBreaker } = ctx.services;
  if (!redis) return undefined;
  return redis.status === 'ready' && (redisBreaker?.allowsCalls ?? true) ? 'ok' : 'degraded';
}

/**
 * `/healthz` (process up), `/readyz` (docs/reference.md §9), `/metrics` (Prometheus text).
 *
 * `/readyz` is 503 while the instance drains for shutdown or the database is unreachable or
 * refuses writes; 200 `ready` otherwise, or 200 `degraded` when Redis is away (Keyport serves on
 * with per-instance limits, so taking it out of rotation would only make things worse).
 */
export function operationsRoutes<S extends OperationsRouteServices>(): KeyportRouter<S> {
  const router: KeyportRouter<S> = new Router();

  router.get('/healthz', async function healthz(ctx) {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async function readyz(ctx) {
    ctx.set('Cache-Control', 'no-store');
    const { lifecycle, database } = ctx.services;
    const draining = (): boolean => {
      if (!lifecycle.draining) return false;
      ctx.status = 503;
      ctx.set('Retry-After', String(DRAINING_RETRY_AFTER_SECONDS));
      ctx.body = { error: { code: 'service_unavailable', message: 'This instance is shutting down.', request_id: ctx.state.requestId }, status: 'draining' };
      return true;
    };
    if (draining()) return;
    const db = await database.health.readiness();
    if (draining()) return;
    const redis = redisReadiness(ctx);
    const checks = { database: db, ...(redis ? { redis } : {}) };
    if (db !== 'ok') {
      ctx.status = 503;
      ctx.body = { error: { code: 'service_unavailable', message: NOT_READY_MESSAGES[db], request_id: ctx.state.requestId }, checks };
      return;
    }
    ctx.body = { status: redis === 'degraded' ? 'degraded' : 'ready', checks };
  });

  router.get('/metrics', async function metrics(ctx) {
    const { registry } = ctx.services.metrics;
    ctx.set('Content-Type', registry.contentType);
    ctx.body = await registry.metrics();
  });

  return router;
}
