import { isDatabaseOutage } from '../db/outage.js';
import { ERROR_CODES, KeyportError, ServiceUnavailable, type ErrorCode } from '../lib/errors.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../lib/logger.js';
import type { KeyportContext, Middleware } from './context.js';

/** What mapping an error uses: the logger, and the database's health (a refused write makes /readyz say so). */
export interface ErrorHandlerServices {
  readonly logger: Pick<Logger, 'error' | 'isLevelEnabled'>;
  readonly database: Pick<Database, 'health'>;
}

/** Errors from the body parser (co-body / raw-body) carry a `type` and a status. */
function fromParserError(err: { status?: number; type?: string; name?: string }): KeyportError | undefined {
  if (err.name === 'SyntaxError' && err.status === 400) return new KeyportError('invalid_request', 'The request body is not valid JSON.');
  switch (err.type) {
    case 'entity.too.large': return new KeyportError('payload_too_large');
    case 'entity.parse.failed': return new KeyportError('invalid_request', 'The request body is not valid JSON.');
    case 'encoding.unsupported':
    case 'charset.unsupported': return new KeyportError('unsupported_media_type', 'The request body encoding is not supported.');
    case 'request.aborted': return new KeyportError('invalid_request', 'The request was aborted.');
    case 'request.size.invalid': return new KeyportError('invalid_request', 'The request length does not match Content-Length.');
    default: break;
  }
  if (err.status === 413) return new KeyportError('payload_too_large');
  if (err.status === 415) return new KeyportError('unsupported_media_type');
  if (err.status === 400) return new KeyportError('invalid_request');
  return undefined;
}

/** Turns anything thrown into the error a client may see. Never returns internals. */
export function toKeyportError(err: unknown): KeyportError {
  if (err instanceof KeyportError) return err;
  const parsed = typeof err === 'object' && err !== null ? fromParserError(err as { status?: number; type?: string }) : undefined;
  if (parsed) return parsed;
  if (isDatabaseOutage(err)) return new ServiceUnavailable(err);
  return new KeyportError('server_error', undefined, { cause: err });
}

export function renderError(ctx: KeyportContext<unknown>, error: KeyportError): void {
  ctx.status = error.status;
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = {
    error: { code: error.code, message: error.message, request_id: ctx.state.requestId, ...error.details },
    ...error.extra,
  };
}

/**
 * A 503 is a known outage (database down or stalled, budget spent, draining): the same line for
 * every request while it lasts, so no stack unless debugging. Repeats are counted by the logger.
 */
function logFailure(ctx: KeyportContext<ErrorHandlerServices>, error: KeyportError, thrown: unknown): void {
  const { logger, database } = ctx.services;
  const cause = error.cause ?? thrown;
  // A refused write (disk full, read-only) makes /readyz report the database not ready.
  database.health.observe(cause);
  const known = error.code === 'service_unavailable';
  const stack = !known || logger.isLevelEnabled('debug') ? (cause as Error | undefined)?.stack : undefined;
  logger.error('request failed', { request_id: ctx.state.requestId, code: error.code, err: cause, stack });
}

/** The one place that maps errors to HTTP for Keyport's own routes (docs/reference.md §4). */
export const errorHandler: Middleware<ErrorHandlerServices> = async function errorHandler(ctx, next) {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) throw new KeyportError('not_found', `No route for ${ctx.method} ${ctx.path}.`);
  } catch (err) {
    const error = toKeyportError(err);
    if (error.status >= 500) logFailure(ctx, error, err);
    renderError(ctx, error);
  }
};

export function isErrorCode(code: string): code is ErrorCode {
  return code in ERROR_CODES;
}
