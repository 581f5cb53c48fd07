export interface WriteBehindOptions<K, V> {
  /** How long the first pending entry waits before the batch is written (a timer that does not keep the process alive). */
  readonly delayMs: number;
  /**
   * Entries held at most. Reaching it starts a flush at once instead of waiting for the timer, and
   * entries put back after a failed write stop there (the rest are lost). Default: no bound.
   */
  readonly maxPending?: number;
  /** Folds an entry into the one already pending under the same key (also used when a failed entry is put back). */
  readonly merge: (pending: V, incoming: V) => V;
  /**
   * Writes one batch. Entries to try again at the next flush go to `retryLater` (put back among
   * the pending ones, the timer armed); entries neither written nor handed back are lost. Handles
   * and logs its own errors: it must not reject.
   */
  readonly write: (batch: ReadonlyMap<K, V>, retryLater: (entries: Iterable<readonly [K, V]>) => void) => Promise<void>;
}

/**
 * Bookkeeping written behind the request path: the request adds an entry in memory (entries
 * under the same key fold into one), and a few seconds later everything pending goes to the
 * database as one batch, off the request path. One write at a time; `flush()` (the timer,
 * shutdown, tests) resolves once everything pending when it was called is written.
 *
 * The one buffer of its kind; its users differ only in their options:
 * - lastUsedAt of API keys (src/keys/usage_tracker.ts): 5 s, no bound (the tracker itself
 *   admits one entry per key per minute), the newest timestamp wins, a failed write is dropped;
 * - per-key hourly usage counts (src/dashboard/usage.ts): 5 s, at most 20 000 (key, hour)
 *   buckets (then a flush at once), counts add up, failed buckets are put back for the next
 *   flush (up to the bound).
 *
 * Shutdown: the owner's `close()` calls `flush()` (src/services.ts runs the closers when the
 * server has drained).
 */
export class WriteBehindBuffer<K, V> {
  private pending = new Map<K, V>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Writes started so far: a reader compares it before and after reading the table. */
  private writesStarted = 0;

  constructor(private readonly options: WriteBehindOptions<K, V>) {}

  /** Entries waiting for the next write (those of a write in progress excluded). */
  get size(): number {
    return this.pending.size;
  }

  /**
   * The entries waiting for the next write (those of a write in progress excluded). A reader that
   * adds them to what the table says goes through `readConsistently` instead, which does not lose
   * the write in progress.
   */
  pendingValues(): IterableIterator<V> {
    return this.pending.values();
  }

  /**
   * Reads `table` and the pending entries so that each entry is counted exactly once: an entry
   * of a write in progress is in neither (not committed, no longer pending), so the read waits
   * for that write first, and reads again if a write started meanwhile (up to `attempts` times;
   * writes start a few seconds apart, a read takes milliseconds).
   */
  async readConsistently<T>(table: () => Promise<T>, attempts = 3): Promise<{ table: T; pending: V[] }> {
    for (let attempt = 1; ; attempt += 1) {
      while (this.flushing !== undefined) await this.flushing;
      const started = this.writesStarted;
      const read = await table();
      if (this.writesStarted === started || attempt >= attempts) return { table: read, pending: [...this.pending.values()] };
    }
  }

  /** Adds an entry (folded into a pending one under the same key); cheap, for the request path. */
  add(key: K, value: V): void {
    const current = this.pending.get(key);
    this.pending.set(key, current === undefined ? value : this.options.merge(current, value));
    if (this.options.maxPending !== undefined && this.pending.size >= this.options.maxPending) void this.flush();
    else this.arm();
  }

  /** Writes what is pending now, after the write in progress if any. Never rejects (see `write`). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing !== undefined) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.writesStarted += 1;
    this.flushing = this.options.write(batch, (entries) => this.putBack(entries)).finally(() => { this.flushing = undefined; });
    await this.flushing;
  }

  /** Shutdown: writes what is pending. */
  close(): Promise<void> {
    return this.flush();
  }

  private putBack(entries: Iterable<readonly [K, V]>): void {
    let failed = false;
    for (const [key, value] of entries) {
      failed = true;
      if (this.options.maxPending !== undefined && this.pending.size >= this.options.maxPending) break;
      const current = this.pending.get(key);
      this.pending.set(key, current === undefined ? value : this.options.merge(current, value));
    }
    if (failed) this.arm();
  }

  private arm(): void {
    this.timer ??= setTimeout(() => { void this.flush(); }, this.options.delayMs).unref();
  }
}
