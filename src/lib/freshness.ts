import { type Clock, systemClock } from './clock.js';

export interface FreshnessGateOptions {
  /** Where "now" comes from (default: the system clock). */
  readonly clock?: Clock;
  /**
   * A caller that finds a look already running (started before it asked) waits for that one
   * instead of one started after it. Enough when the promise is only "within `intervalMs`" (the
   * key verifier's sweep): under a slow database callers then wait one query, not two. Default
   * false: a caller waits for a look that started after it asked (exact, see the class comment).
   */
  readonly joinRunningLook?: boolean;
}

/**
 * Keeps an in-process cache honest about changes made by other processes (the CLI, other
 * instances). Before a cached answer is trusted, `ensureFresh()` decides whether the cache must
 * first `look` at the table (one small indexed query for what changed):
 *
 * - with a change counter (SQLite's `PRAGMA data_version`, which moves whenever another
 *   connection commits): only when the counter moved since the last look. Exact, and about a
 *   microsecond per check when nothing changed;
 * - otherwise at most every `intervalMs`: changes made elsewhere are honoured within that
 *   interval. The bus (Redis) tells peers sooner.
 *
 * By default a caller that has to look waits for a look that started after it asked (concurrent
 * callers share it), so whatever was committed before the check is seen; with `joinRunningLook`
 * it may share one already running. Idle instances make no query.
 *
 * The one gate of its kind: the key verifier's change sweep (src/keys/change_sweep.ts: interval,
 * joins a running look, keeps its cache when a look fails), the revocation registry
 * (src/oidc/revocations.ts) and the client cache (src/clients/client_cache.ts) (both: change
 * counter on SQLite, else interval; wait for a look started after the call; drop their cache when
 * a look fails). What a look reads and what it does on failure is the cache's own business.
 */
export class FreshnessGate {
  private nextAttempt = 0;
  private seenVersion: number | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly joinRunningLook: boolean;

  /**
   * @param look learns what changed since its last successful run; receives the instant the look
   *   started (changes committed before it are covered once it resolves). It handles its own
   *   failures (log, keep or drop entries); it must not reject. A failed look is retried at the
   *   next check after `intervalMs` (or after the counter moves again).
   * @param changeCounter a counter that moves when another process commits, when the database
   *   has one (see `Database.changeCounter`).
   */
  constructor(
    private readonly intervalMs: number,
    private readonly look: (startedAt: number) => Promise<void>,
    private readonly changeCounter?: () => number,
    options: FreshnessGateOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.joinRunningLook = options.joinRunningLook ?? false;
  }

  /** Undefined when the cache may be trusted as it is; otherwise resolves after a fresh look. */
  ensureFresh(now = this.clock.now()): Promise<void> | undefined {
    if (this.changeCounter) {
      return this.changeCounter() === this.seenVersion ? undefined : this.lookAfterNow();
    }
    return now < this.nextAttempt ? undefined : this.lookAfterNow();
  }

  /** The next `ensureFresh()` looks whatever the interval or counter (a reconnected bus, tests). */
  expire(): void {
    this.nextAttempt = 0;
    this.seenVersion = undefined;
  }

  /** A look that starts now, or right after the one running (which may predate this call), or that one (joinRunningLook). */
  private lookAfterNow(): Promise<void> {
    if (!this.running) return this.launch();
    if (this.joinRunningLook) return this.running;
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.launch();
    });
    return this.queued;
  }

  private launch(): Promise<void> {
    const startedAt = this.clock.now();
    this.nextAttempt = startedAt + this.intervalMs;
    // Read before the look's query: anything committed before this reading is visible to it.
    if (this.changeCounter) this.seenVersion = this.changeCounter();
    const run: Promise<void> = this.look(startedAt).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
