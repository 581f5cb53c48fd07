import { systemClock } from '../lib/clock.js';
import type { LimiterName, WindowPolicy } from './policies.js';

/** What a counter store says about one subject in one window. */
export interface CounterReading {
  /** Requests counted in the current window. */
  readonly consumed: number;
  /** Milliseconds until the window ends and the count starts again from zero. */
  readonly msBeforeReset: number;
}

/** One window of a decision, as it is reported in the `RateLimit` / `RateLimit-Policy` fields. */
export interface WindowState {
  /** The policy name, e.g. `minute`. */
  readonly policy: string;
  readonly limit: number;
  readonly windowSeconds: number;
  readonly remaining: number;
  /** Seconds until this window resets (the `t` parameter). */
  readonly resetSeconds: number;
  readonly msBeforeReset: number;
  readonly exceeded: boolean;
}

/**
 * The answer of every limiter call. With several windows (an API key has three) the top-level
 * numbers describe the most restrictive one: the refusing window with the longest wait, or,
 * when allowed, the window with the fewest requests left.
 */
export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limiter: LimiterName;
  /** Name of the reported window (`burst`, `minute`, `hour`, `client`, `login_ip`, `failed_key_ip`). */
  readonly policy: string;
  readonly limit: number;
  readonly remaining: number;
  readonly resetEpochSeconds: number;
  /** 0 when allowed; otherwise whole seconds (at least 1) until the refusing window resets. */
  readonly retryAfterSeconds: number;
  /** Every window that was checked, in policy order. */
  readonly windows: readonly WindowState[];
}

export interface WindowReading {
  readonly window: WindowPolicy;
  /** `null` when the store has no count yet (nothing consumed in this window). */
  readonly reading: CounterReading | null;
}

/**
 * `consumed`: the readings already include this request (allowed while count ≤ limit).
 * `peek`: they do not; the question is whether one more would be allowed (count < limit).
 */
export type ReadingMode = 'consumed' | 'peek';

function windowState(window: WindowPolicy, reading: CounterReading | null, mode: ReadingMode): WindowState {
  const consumed = reading?.consumed ?? 0;
  const ms = reading ? Math.max(0, reading.msBeforeReset) : window.seconds * 1000;
  const exceeded = mode === 'consumed' ? consumed > window.limit : consumed >= window.limit;
  return {
    policy: window.name,
    limit: window.limit,
    windowSeconds: window.seconds,
    remaining: Math.max(0, window.limit - consumed),
    resetSeconds: Math.ceil(ms / 1000),
    msBeforeReset: ms,
    exceeded,
  };
}

function mostRestrictive(states: readonly WindowState[]): WindowState {
  const refusing = states.filter((state) => state.exceeded);
  if (refusing.length > 0) {
    return refusing.reduce((worst, state) => (state.msBeforeReset > worst.msBeforeReset ? state : worst));
  }
  return states.reduce((worst, state) => {
    if (state.remaining !== worst.remaining) return state.remaining < worst.remaining ? state : worst;
    return state.msBeforeReset > worst.msBeforeReset ? state : worst;
  });
}

/** Pure: turns store readings, taken at `nowMs`, into a decision. */
export function decide(limiter: LimiterName, readings: readonly WindowReading[], mode: ReadingMode, nowMs: number = systemClock.now()): RateLimitDecision {
  if (readings.length === 0) throw new Error('a decision needs at least one window');
  const windows = readings.map(({ window, reading }) => windowState(window, reading, mode));
  const reported = mostRestrictive(windows);
  const allowed = !windows.some((state) => state.exceeded);
  return {
    allowed,
    limiter,
    policy: reported.policy,
    limit: reported.limit,
    remaining: allowed ? reported.remaining : 0,
    resetEpochSeconds: Math.ceil((nowMs + reported.msBeforeReset) / 1000),
    retryAfterSeconds: allowed ? 0 : Math.max(1, reported.resetSeconds),
    windows,
  };
}

/** What `GET /auth/test` reports as `rate_limit` (docs/reference.md §3). */
export function rateLimitSummary(decision: RateLimitDecision): { limit: number; remaining: number; reset: number } {
  return { limit: decision.limit, remaining: decision.remaining, reset: decision.resetEpochSeconds };
}
