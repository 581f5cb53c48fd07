import { InvalidRequest } from '../../lib/errors.js';
import type { Middleware } from '../context.js';

function decodes(component: string): boolean {
  if (!component.includes('%')) return true;
  try {
    decodeURIComponent(component);
    return true;
  } catch {
    return false;
  }
}

/**
 * Keyport's routes take path segments and query values as text. The router's decoder keeps a
 * segment it cannot decode as it is (`%FF` stays the three characters `%FF`), and Node's query
 * parser turns bad bytes into U+FFFD, so a malformed URL used to become a literal ID. A path or
 * query whose percent-encoding is malformed or does not decode to UTF-8 is a 400 instead.
 */
export const rejectUndecodableTarget: Middleware<unknown> = function rejectUndecodableTarget(ctx, next) {
  if (!decodes(ctx.path) || !decodes(ctx.querystring)) {
    return Promise.reject(new InvalidRequest('The URL has malformed percent-encoding or bytes that are not UTF-8.'));
  }
  return next();
};
