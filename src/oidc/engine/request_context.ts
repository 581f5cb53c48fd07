import type { AsyncLocalStorage } from 'node:async_hooks';
import { requestStorage } from './modules.js';

/**
 * Seam: the engine's request context (its AsyncLocalStorage, lib/helpers/als.js) is switched off
 * whenever no engine request is running, and on again by the next one.
 *
 * Why: on Node 20 an AsyncLocalStorage propagates through async_hooks. From its first `run` (the
 * engine's first request: a discovery document, a JWKS fetch, any grant it answers itself) Node
 * calls a hook for every promise the process creates, from then on, whether the promise has
 * anything to do with the engine or not. Most of Keyport's traffic never enters the engine (the
 * fast paths of introspection and client credentials, `/auth/login`, `/auth/test`), yet paid for
 * it on every promise: `bench:ab` on SQLite, the same build with the hook on from the start against
 * off (medians of 3 rounds, 2026-12-05): JWT introspection × 0.62, API-key JWT introspection × 0.55,
 * same-session `/auth/login` × 0.54 (149 → 285 µs of CPU a login), `GET /auth/test` × 0.76. It is
 * why introspection in the full bench was slower after the scenarios before it than alone
 * (docs/benchmarks.md). Node 24's AsyncLocalStorage does not use async_hooks; switching it off
 * and on costs nothing there either.
 *
 * How: the engine's `run` (called once per engine request, around the rest of its middleware) is
 * wrapped to count the requests inside it. When the last one has settled, the storage is
 * disabled (`disable()`: Node turns the hook off once no storage is enabled); the engine's next
 * `run` enables it again (documented behaviour of `run` after `disable`). While any engine request
 * runs, the storage is on for all of them, as before. Nothing reads the storage outside an engine
 * request: `Provider.ctx` and the token formats' `ctx` are undefined there either way (the fast
 * paths and `/auth/login` mint without it).
 */
export function switchRequestContextOffWhenIdle(storage: AsyncLocalStorage<unknown> = requestStorage): void {
  if (wrapped.has(storage)) return;
  wrapped.add(storage);
  const run = storage.run;
  let running = 0;
  const settled = (): void => {
    running -= 1;
    if (running === 0) storage.disable();
  };
  storage.run = function runCounted<R>(this: AsyncLocalStorage<unknown>, store: unknown, callback: (...args: unknown[]) => R, ...args: unknown[]): R {
    running += 1;
    let result: R;
    try {
      result = run.call(this, store, callback, ...args) as R;
    } catch (err) {
      settled();
      throw err;
    }
    if (result instanceof Promise) {
      // The caller awaits the same outcome; the count drops once the request's work has settled.
      return result.finally(settled) as R;
    }
    settled();
    return result;
  } as typeof storage.run;
}

const wrapped = new WeakSet<AsyncLocalStorage<unknown>>();

/**
 * Whether the engine's request context is enabled now (for the contract test), where Node says:
 * its async_hooks implementation (Node 20, 22) keeps an `enabled` flag on the instance; the one of
 * Node 24 (AsyncContextFrame, no hook to switch off) has none, and this is undefined there.
 */
export function requestContextEnabled(storage: AsyncLocalStorage<unknown> = requestStorage): boolean | undefined {
  const { enabled } = storage as unknown as { enabled?: unknown };
  return typeof enabled === 'boolean' ? enabled : undefined;
}
