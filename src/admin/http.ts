import type { KeyportContext, Middleware } from '../http/context.js';
import { validateQuery, validateRequestBody } from '../http/validate.js';
import { InvalidRequest } from '../lib/errors.js';

/** Admin answers carry secrets (show-once keys) and live state: nothing may cache them. */
export const noStore: Middleware<unknown> = async function noStore(ctx, next) {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  return next();
};

/** The JSON body through its DTO; an absent body counts as `{}` (bodiless POSTs such as revoke). */
export function readBody<T extends object>(ctx: KeyportContext<unknown>, dto: new () => T): T {
  return validateRequestBody(ctx, dto);
}

function refuseFields(fields: object): void {
  const [field] = Object.keys(fields);
  if (field !== undefined) throw new InvalidRequest(`Invalid request: unknown field ${JSON.stringify(field.slice(0, 64))}.`);
}

/**
 * Routes that take no fields (revoke, delete): an absent or empty body, nothing else. (A DTO
 * without properties cannot say so: class-validator refuses to validate a class with no rules.)
 */
export function readEmptyBody(ctx: KeyportContext<unknown>): void {
  const body = (ctx.request as { body?: unknown }).body;
  if (body === undefined) return;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequest('The request body must be a JSON object.');
  refuseFields(body);
}

/** Lists without filters: an unknown query parameter is a 400, as on the lists that have some. */
export function readEmptyQuery(ctx: KeyportContext<unknown>): void {
  refuseFields(ctx.query);
}

/** The query string through its DTO: unknown parameters and repeated ones are a 400 too. */
export function readQuery<T extends object>(ctx: KeyportContext<unknown>, dto: new () => T): T {
  return validateQuery(ctx, dto);
}

/** 201 with the new resource's address. */
export function created(ctx: KeyportContext<unknown>, location: string, body: unknown): void {
  ctx.status = 201;
  ctx.set('Location', location);
  ctx.body = body;
}
