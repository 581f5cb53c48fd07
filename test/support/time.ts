import FakeTimers from '@sinonjs/fake-timers';
import type { Clock } from '../../src/lib/clock.js';

/**
 * Wall-clock time a test moves by hand instead of sleeping through a window: fake timers over
 * `Date` only. Everything that reads `Date` follows it (`systemClock`, and libraries such as
 * rate-limiter-flexible's in-memory counters, which take no clock); timers, I/O and real servers
 * keep running on real time, so a test app still answers over HTTP. Uninstall it in `afterEach`
 * (or a `finally`): a forgotten fake `Date` would confuse every later test.
 */
export interface FakeWallClock extends Clock {
  /** Moves `Date` forward by `ms` (nothing else happens: no timer fires). */
  advance(ms: number): void;
  uninstall(): void;
}

export function fakeWallClock(start = Date.now()): FakeWallClock {
  const fake = FakeTimers.install({ now: start, toFake: ['Date'] });
  return {
    now: () => fake.now,
    advance: (ms) => { fake.tick(ms); },
    uninstall: () => fake.uninstall(),
  };
}

/** A `Clock` of its own for code that takes one in its dependencies; the global `Date` is left alone. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => { now += ms; },
  };
}
