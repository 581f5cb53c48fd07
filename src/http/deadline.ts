import { ServiceUnavailable } from '../lib/errors.js';
import { renderTemporarilyUnavailable } from '../oidc/unavailable.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../lib/logger.js';
import type { KeyportContext, Middleware } from './context.js';

/** What the request budget uses: its length, and the logger for a spent budget. */
export interface RequestDeadlineServices {
  readonly config: Pick<Config, 'requestTimeoutMs'>;
  readonly logger: Pick<Logger, 'error'>;
}

/** Thrown into the request when its budget (REQUEST_TIMEOUT_MS) is spent. */
export class BudgetSpent extends ServiceUnavailable {
  constructor(readonly budgetMs: number) {
    super(undefined, { message: 'The request could not be completed in time; retry shortly.' });
  }
}

/**
 * Every request's time budget (REQUEST_TIMEOUT_MS, docs/reference.md §9): when it runs out, the client gets
 * 503 with Retry-After at once, whatever the request is still waiting for, never a hang. Keyport's
 * own routes answer `service_unavailable` (docs/reference.md §4, through the error handler above this step),
 * the engine's `temporarily_unavailable` (RFC 6749).
 *
 * The work itself is not cancelled: it runs on until its own bounds end it (database acquire and
 * query timeouts, Redis command timeouts), and whatever it writes to the response afterwards is
 * ignored (koa drops headers and status once the answer is sent). Writes it completes stay
 * consistent: the exchange's claims and conditional updates decide who stored what, so a retry
 * gets the stored token back.
 */
export function requestDeadline(isOAuthPath: (path: string) => boolean): Middleware<RequestDeadlineServices> {
  // One promise per request, settled by whichever comes first (the work or the timer), rather
  // than an async step racing a second promise: this runs for every request.
  return function requestDeadline(ctx: KeyportContext<RequestDeadlineServices>, next) {
    const budgetMs = ctx.services.config.requestTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const spent = new BudgetSpent(budgetMs);
        if (!isOAuthPath(ctx.path)) {
          reject(spent);
          return;
        }
        ctx.services.logger.error('request failed', { request_id: ctx.state.requestId, code: 'temporarily_unavailable', err: spent });
        renderTemporarilyUnavailable(ctx);
        resolve();
      }, budgetMs);
      next().then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  };
}
