import type { Logger } from '../lib/logger.js';
import type { KeyportContext, Middleware } from './context.js';

/** What the access log uses: the logger (its `http` level). */
export interface AccessLogServices {
  readonly logger: Pick<Logger, 'http' | 'isLevelEnabled'>;
}

/** One JSON line per request. The path goes through the logger's redaction like everything else. */
export const accessLog: Middleware<AccessLogServices> = async function accessLog(ctx, next) {
  const started = process.hrtime.bigint();
  try {
    await next();
  } finally {
    const { logger } = ctx.services;
    // Off at the default level (info): do not build the entry at all.
    if (logger.isLevelEnabled('http')) logAccess(ctx, started);
  }
};

function logAccess(ctx: KeyportContext<AccessLogServices>, started: bigint): void {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  ctx.services.logger.http('request', {
    request_id: ctx.state.requestId,
    method: ctx.method,
    path: ctx.originalUrl,
    status: ctx.status,
    duration_ms: Math.round(ms * 100) / 100,
    ip: ctx.ip,
  });
}
