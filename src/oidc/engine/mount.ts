import type { Next } from 'koa';
import compose from 'koa-compose';
import type { Provider } from './modules.js';

/**
 * Seam: the engine's koa middleware stack (`provider.middleware`, the Provider being a koa app) run
 * on Keyport's own koa context, as koa-mount at the root would: Keyport's edge middleware, request
 * prototype (src/http/edge/forwarded_proto.ts) and error handling apply to engine requests too.
 *
 * `provider.use()` inserts middleware into that array (before the engine's router) at any time,
 * so the stack is composed again whenever its length changed.
 */

/** Runs the engine's stack on `ctx`; `next` continues in Keyport's stack when the engine does not answer. */
export type EngineStack = (ctx: unknown, next: () => Promise<unknown>) => Promise<unknown>;

type StackEntry = compose.Middleware<unknown>;

export function engineStack(provider: Provider): EngineStack {
  const stack = (): StackEntry[] => provider.middleware as unknown as StackEntry[];
  let size = stack().length;
  let dispatch = compose(stack());
  return (ctx, next) => {
    if (size !== stack().length) {
      size = stack().length;
      dispatch = compose(stack());
    }
    return dispatch(ctx, next as Next);
  };
}
