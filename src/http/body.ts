import { bodyParser } from '@koa/bodyparser';
import { InvalidRequest, UnsupportedMediaType } from '../lib/errors.js';
import type { Middleware } from './context.js';

/** Bodies bigger than this get 413 payload_too_large. Nothing we accept comes close. */
export const BODY_LIMIT = '64kb';

const parse = bodyParser({
  enableTypes: ['json', 'form'],
  jsonLimit: BODY_LIMIT,
  formLimit: BODY_LIMIT,
  jsonStrict: true,
  // Rethrow so the error handler maps it (413 / 400) instead of koa's default text answer.
  onError: (err) => { throw err; },
});

/**
 * JSON (and form, for HTML pages) body parsing for Keyport's own routes only: oidc-provider
 * parses its own bodies and warns when something upstream already did.
 */
export const parseBody: Middleware = async function parseBody(ctx, next) {
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method) && ctx.request.length && !ctx.is('json', 'urlencoded')) {
    throw new UnsupportedMediaType();
  }
  await parse(ctx as never, async () => {});
  const body = (ctx.request as { body?: unknown }).body;
  if (ctx.is('json') && body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
    throw new InvalidRequest('The request body must be a JSON object.');
  }
  await next();
};
