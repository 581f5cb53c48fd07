/**
 * Keeps an in-process cache honest about changes made by other processes (the CLI, other
 * instances). Before a cached answer is trusted, `ensureFresh()` decides whether the cache must
 * first `look` at the table (one small indexed query for what changed):
 *
 * - with a change counter (SQLite's `PRAGMA data_version`, which moves whenever another
 *   connection commits): only when the counter moved since the last look. Exact, and about a
 *   microsecond per check when nothing changed;
 * - otherwise at most every `intervalMs` (as src/keys/change_sweep.ts does for keys): changes
 *   made elsewhere are honoured within that interval. The bus (Redis) tells peers sooner.
 *
 * A caller that has to look waits for a look that started after it asked (concurrent callers
 * share it), so whatever was committed before the check is seen. Idle instances make no query.
 */
export class FreshnessGate {
  private nextAttempt = 0;
  private seenVersion: number | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  /**
   * @param look learns what changed since its last successful run; receives the instant the look
   *   started (changes committed before it are covered once it resolves). It handles its own
   *   failures (log, keep or drop entries); it must not reject.
   * @param changeCounter a counter that moves when another process commits, when the database
   *   has one (see `Database.changeCounter`).
   */
  constructor(
    private readonly intervalMs: number,
    private readonly look: (startedAt: number) => Promise<void>,
    private readonly changeCounter?: () => number,
  ) {}

  /** Undefined when the cache may be trusted as it is; otherwise resolves after a fresh look. */
  ensureFresh(now = Date.now()): Promise<void> | undefined {
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

  /** A look that starts now, or right after the one running (which may predate this call). */
  private lookAfterNow(): Promise<void> {
    if (!this.running) return this.launch();
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.launch();
    });
    return this.queued;
  }

  private launch(): Promise<void> {
    const startedAt = Date.now();
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
