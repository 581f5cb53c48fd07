import type Router from '@koa/router';
import { KeyportError } from '../lib/errors.js';
import type { KeyportContext, Middleware } from './context.js';

// The app's routers, as mounted (typed with the whole container): only their paths are read here.
type KeyportRouter = Router<KeyportContext['state'], KeyportContext>;

/** The methods Keyport's routes answer on this path (HEAD comes with GET), across every router. */
function methodsFor(routers: readonly KeyportRouter[], path: string): string[] {
  const methods = new Set<string>();
  for (const router of routers) {
    for (const layer of router.match(path, 'GET').path) for (const method of layer.methods) methods.add(method);
  }
  return [...methods];
}

/**
 * What no route answered: a path some route serves with another method is 405
 * method_not_allowed with `Allow` (OPTIONS: 204 with `Allow`), in the docs/reference.md §4 body like every
 * other error; any other path stays unanswered, which the error handler turns into 404. Replaces
 * the routers' own `allowedMethods()`, which answered in plain text and said 501 for a method
 * they do not implement (e.g. PROPFIND) even on paths that do not exist.
 */
export function answerOtherMethods(routers: readonly KeyportRouter[]): Middleware<unknown> {
  return async function answerOtherMethods(ctx, next) {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    const allowed = methodsFor(routers, ctx.path);
    if (allowed.length === 0 || allowed.includes(ctx.method)) return;
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      ctx.set('Allow', allowed.join(', '));
      return;
    }
    throw new KeyportError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}; use ${allowed.join(' or ')}.`, { headers: { Allow: allowed.join(', ') } });
  };
}
