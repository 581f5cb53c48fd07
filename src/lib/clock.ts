/**
 * The one source of "now" for domain code. Services take a `Clock` in their dependencies
 * (default `systemClock`), so tests can move time instead of sleeping through windows
 * (test/support/time.ts installs fake timers over `Date`, which `systemClock` reads).
 *
 * Only wall-clock time lives here: what is stored, signed or compared with other processes
 * (expiry, issued-at, windows). Durations measured inside one process (latency histograms,
 * timeouts) use `performance.now()` or timers directly.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** Whole seconds since the epoch (JWT `iat`/`exp`, OAuth `expires_in` arithmetic). */
export function epochSeconds(clock: Clock = systemClock): number {
  return Math.floor(clock.now() / 1000);
}
