/**
 * Gathers single reads or writes into batches: one query or statement for many callers.
 *
 * Why: on the hot paths the cost is the number of statements, not their size. Measured on our
 * 2-core VMs: each MySQL statement costs ~150–200 µs of CPU in the socket write alone, each SQLite
 * autocommit ~28 µs of WAL/fcntl syscalls, against ~3 µs for one more row in the same statement.
 * Under load many requests ask in the same turn, and one statement serves all of them.
 *
 * Two dispatch modes, each the shape that was measured for its use:
 *
 * - `serial` (batched reads): a batch goes out at the end of the current tick (`process.nextTick`)
 *   and only one is in flight at a time; what is asked meanwhile waits for it and goes out as the
 *   next one. A load therefore never joins a query already sent, so it sees every write committed
 *   before it was asked. On MySQL this turns one socket write per request into one per round
 *   trip, for at most one round trip of waiting (profiles: the write was ~22 % of the server's CPU
 *   in JWT introspection on MariaDB).
 * - `per-turn` (batched writes, group commit by hand): items queue until the `setImmediate` after
 *   the turn in which the first one arrived (the check phase right after that turn's I/O
 *   callbacks), or after `turns` turns, so an idle server adds no waiting to speak of (an idle
 *   turn takes microseconds); batches do not wait for each other. Under load a turn is the I/O
 *   of many requests, and the requests that reach a write stage arrive in cohorts (those whose
 *   statement answered in the same turn): collecting over two turns merges cohorts, which on
 *   MariaDB cut the server and database CPU of a new-session login by about a fifth
 *   (docs/benchmarks.md, "Write batches over two turns").
 *
 * With `runOne`, a batch of several items whose statement fails is retried item by item (a
 * multi-row statement is atomic on SQLite and MySQL alike, so nothing of it was written): one bad
 * row, or a duplicate key its caller wants to hear about, fails only its own caller, exactly as
 * without batching; a batch of one goes straight to `runOne`. Without it, a failed batch fails
 * every load in it. `retryAlone` limits the retry to failures that are about the items: a database
 * that does not answer fails every item at once, as a retry would only wait the same outage out
 * again, item by item, and send a statement whose outcome is unknown (a timeout) a second time.
 */
export class BatchLoader<Item, Result> {
  private queue: Array<Queued<Item, Result>> = [];
  private scheduled = false;
  private inFlight = false;

  constructor(private readonly options: BatchLoaderOptions<Item, Result>) {
    if (!(options.maxBatch >= 1)) throw new Error('maxBatch must be at least 1');
    if (options.turns !== undefined && !(Number.isInteger(options.turns) && options.turns >= 1)) throw new Error('turns must be a whole number of at least 1');
  }

  /** Queues one item; settles with its own result (or its own error). */
  load(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a batch (not those in flight). */
  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    if (this.options.dispatch === 'per-turn') {
      this.scheduled = true;
      afterTurns(this.options.turns ?? 1, () => {
        this.scheduled = false;
        const queued = this.queue;
        this.queue = [];
        for (const batch of this.split(queued)) void this.run(batch);
      });
      return;
    }
    if (this.inFlight) return;
    this.scheduled = true;
    process.nextTick(() => {
      this.scheduled = false;
      this.inFlight = true;
      const batch = this.take();
      void this.run(batch).finally(() => {
        this.inFlight = false;
        this.schedule();
      });
    });
  }

  /** The next batch from the front of the queue (serial mode). */
  private take(): Array<Queued<Item, Result>> {
    const { weight, maxBatch } = this.options;
    let count = 0;
    let total = 0;
    while (count < this.queue.length) {
      const w = weight ? weight(this.queue[count]!.item) : 1;
      if (count > 0 && total + w > maxBatch) break;
      total += w;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  /** Consecutive batches of at most `maxBatch` weight; each holds at least one item. */
  private split(queued: Array<Queued<Item, Result>>): Array<Array<Queued<Item, Result>>> {
    const weight = this.options.weight;
    if (!weight) {
      const batches: Array<Array<Queued<Item, Result>>> = [];
      for (let start = 0; start < queued.length; start += this.options.maxBatch) batches.push(queued.slice(start, start + this.options.maxBatch));
      return batches;
    }
    const batches: Array<Array<Queued<Item, Result>>> = [];
    let current: Array<Queued<Item, Result>> = [];
    let total = 0;
    for (const entry of queued) {
      const w = weight(entry.item);
      if (current.length > 0 && total + w > this.options.maxBatch) {
        batches.push(current);
        current = [];
        total = 0;
      }
      current.push(entry);
      total += w;
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }

  /** Runs one batch and settles each of its loads; never rejects. */
  private async run(batch: Array<Queued<Item, Result>>): Promise<void> {
    if (batch.length === 0) return;
    const { runOne } = this.options;
    if (batch.length > 1 || !runOne) {
      let results: readonly Result[] | undefined;
      let failure: unknown;
      try {
        results = await this.options.runBatch(batch.map((queued) => queued.item));
        if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} answered ${results.length} results`);
      } catch (err) {
        results = undefined;
        failure = err;
      }
      if (results) {
        for (const [index, queued] of batch.entries()) queued.resolve(results[index] as Result);
        return;
      }
      if (!runOne || (this.options.retryAlone && !this.options.retryAlone(failure))) {
        for (const queued of batch) queued.reject(failure);
        return;
      }
      // Nothing of the statement was written: each item on its own tells its caller what went wrong.
    }
    await Promise.all(batch.map(async (queued) => {
      try {
        queued.resolve(await runOne!(queued.item));
      } catch (err) {
        queued.reject(err);
      }
    }));
  }
}

export interface BatchLoaderOptions<Item, Result> {
  /** Runs the items as one query or statement; resolves with each item's result, in order. */
  readonly runBatch: (items: readonly Item[]) => Promise<readonly Result[]>;
  /** Runs one item alone: batches of one, and the item-by-item retry of a failed batch (see the class comment). */
  readonly runOne?: (item: Item) => Promise<Result>;
  /** With `runOne`: whether a failed batch is retried item by item (default: always); false fails all its items with the batch's error. */
  readonly retryAlone?: (failure: unknown) => boolean;
  /** The most a batch may carry, in items or in `weight` (placeholders per statement, packet size). */
  readonly maxBatch: number;
  /** An item's share of `maxBatch` (default 1), e.g. how many values a read asks about. */
  readonly weight?: (item: Item) => number;
  /** When batches go out and how many at once (see the class comment). */
  readonly dispatch: 'serial' | 'per-turn';
  /** `per-turn` only: the event-loop turns a batch collects items over (default 1, the turn the first arrived in). */
  readonly turns?: number;
}

/** Calls `then` in the check phase of the `turns`-th event-loop turn from now (1: this turn's). */
function afterTurns(turns: number, then: () => void): void {
  setImmediate(turns > 1 ? () => afterTurns(turns - 1, then) : then);
}

interface Queued<Item, Result> {
  readonly item: Item;
  resolve(result: Result): void;
  reject(err: unknown): void;
}
