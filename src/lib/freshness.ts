/**
 * Bounds how stale an in-process cache may be about changes made by other processes. Before a
 * cached answer is trusted, `ensureFresh()` runs the cache's `look` (one small indexed query for
 * what changed) unless one started less than `intervalMs` ago; concurrent callers share the
 * running look. Idle instances make no query; under load it is a few reads a second, not one per
 * request. The bus (Redis) tells peers at once; this is what keeps instances without Redis, and
 * the CLI's changes, honoured within `intervalMs`.
 *
 * The same scheme as src/keys/change_sweep.ts, for caches outside the keys feature.
 */
export class FreshnessGate {
  private nextAttempt = 0;
  private running: Promise<void> | undefined;

  /**
   * @param look learns what changed since its last successful run; receives the instant the look
   *   started (changes committed before it are covered once it resolves). It handles its own
   *   failures (log, keep the cache as it was); the next call after the interval tries again.
   */
  constructor(private readonly intervalMs: number, private readonly look: (startedAt: number) => Promise<void>) {}

  /** Undefined when the last look is recent; otherwise resolves after one look. */
  ensureFresh(now = Date.now()): Promise<void> | undefined {
    if (now < this.nextAttempt) return undefined;
    this.running ??= this.run(now).finally(() => { this.running = undefined; });
    return this.running;
  }

  /** The next `ensureFresh()` looks again whatever the interval (tests, a reconnected bus). */
  expire(): void {
    this.nextAttempt = 0;
  }

  private async run(startedAt: number): Promise<void> {
    this.nextAttempt = startedAt + this.intervalMs;
    await this.look(startedAt);
  }
}
