import { newId } from '../lib/ids.js';
import type { Middleware } from './context.js';

/** A caller-supplied ID is kept only when it is short and harmless, so it can be logged verbatim. */
const ACCEPTABLE_INCOMING = /^[A-Za-z0-9._:-]{8,64}$/;

/** Made once at the edge; rides on every log line and every error body. */
export const requestId: Middleware<unknown> = function requestId(ctx, next) {
  const incoming = ctx.get('X-Request-Id');
  ctx.state.requestId = ACCEPTABLE_INCOMING.test(incoming) ? incoming : newId('req');
  ctx.set('X-Request-Id', ctx.state.requestId);
  // Nothing to do afterwards: hand on the promise instead of awaiting it (one fewer per request).
  return next();
};
