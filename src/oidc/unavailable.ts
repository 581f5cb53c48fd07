import { toKeyportError } from '../http/error_handler.js';
import type { Provider } from './engine.js';

/**
 * The engine turns any failure into 500 server_error. When the cause is the database being
 * unreachable, Keyport answers 503 temporarily_unavailable with Retry-After instead (SPEC §4's
 * service_unavailable, in RFC 6749 form), so clients retry and monitoring can tell an outage from
 * a bug. Redirects (errors sent back to the client) are left alone.
 */
export function answerUnavailableDuringOutage(provider: Provider, databaseOpen: () => boolean): void {
  const outage = new WeakSet<object>();
  provider.on('server_error', (ctx, err) => {
    if (!databaseOpen() || toKeyportError(err).code === 'service_unavailable') outage.add(ctx);
  });

  provider.use(async function temporarilyUnavailable(ctx, next) {
    await next();
    if (!outage.has(ctx) || ctx.status !== 500) return;
    ctx.status = 503;
    ctx.set('Retry-After', '5');
    if (!ctx.response.is('html')) {
      ctx.body = { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable; retry shortly.' };
    }
  });
}
