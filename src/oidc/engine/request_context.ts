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
 * it on every promise (async_hooks' functions ~5 % of the event loop's own time in a profile of
 * API-key JWT introspection). `bench:ab --fresh`, without and with this seam, each round opening with
 * an exchange the engine answers (2026-12-05, medians of the per-round ratios; docs/benchmarks.md):
 * API-key JWT introspection × 1.22 on SQLite (102 → 86 µs of CPU a request, 6 of 6 rounds ahead)
 * and × 1.28 on MariaDB (4 of 4), JWT introspection × 1.26 and `GET /auth/test` × 1.27 (MariaDB, 4
 * of 4), same-session `/auth/login` × 1.18 on SQLite (6 of 6). It is why introspection in the
 * full bench was slower after the scenarios before it than alone. Node 24's AsyncLocalStorage does
 * not use async_hooks; switching it off and on costs nothing there either.
 *
 * How: the engine's `run` (called once per engine request, around the rest of its middleware) is
 * wrapped to count the requests inside it. When the last one has settled, the storage is
 * disabled (`disable()`: Node turns the hook off once no storage is enabled); the engine's next
 * `run` enables it again (documented behaviour of `run` after `disable`). While any engine request
 * runs, the storage is on for all of them, as before. Nothing reads the storage outside an engine
 * request: `Provider.ctx` and the token formats' `ctx` are undefined there either way (the fast
 * paths and `/auth/login` mint without it).
 */
export function switchRequestContextOffWhenIdle(): void {
  // One storage for the whole process (every Provider shares the engine's module): wrapped once.
  if (switched) return;
  switched = true;
  const storage = requestStorage;
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
    if (isThenable(result)) {
      // The caller awaits the same outcome; the count drops once the request's work has settled.
      return Promise.resolve(result).finally(settled) as R;
    }
    settled();
    return result;
  } as typeof storage.run;
}

let switched = false;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
