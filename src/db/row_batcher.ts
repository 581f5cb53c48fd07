/**
 * Sends the single-row writes that arrive during one turn of the event loop as one multi-row
 * statement (group commit by hand).
 *
 * Why: on the hot write paths (a new API-key session writes a grant, a refresh token and its
 * session row) the cost is the number of statements, not their size. Measured on our 2-core VMs:
 * each MySQL statement costs ~150–200 µs of CPU in the socket write alone, each SQLite autocommit
 * ~28 µs of WAL/fcntl syscalls, against ~3 µs for one more row in the same statement. Under load
 * many requests write in the same turn, and one statement carries all of them.
 *
 * Rows queue until the `setImmediate` after the turn in which the first one arrived (the check
 * phase right after the I/O callbacks of that turn), so an idle server adds no waiting to speak of.
 * A multi-row statement is atomic on SQLite and MySQL alike; when it fails, every row is retried
 * on its own, so one bad row (or a duplicate key the caller wants to hear about) fails only its
 * own caller, exactly as without batching.
 */
export class RowBatcher<Row, Result> {
  private queue: Array<QueuedRow<Row, Result>> = [];

  constructor(private readonly options: {
    /** Writes the rows in one statement; resolves with each row's result, in order. */
    readonly writeMany: (rows: readonly Row[]) => Promise<readonly Result[]>;
    /** Writes one row (also the fallback when a multi-row statement fails). */
    readonly writeOne: (row: Row) => Promise<Result>;
    /** Rows per statement at most (bounded by placeholders per statement and packet size). */
    readonly maxRows: number;
  }) {}

  add(row: Row): Promise<Result> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => { void this.flush(); });
      this.queue.push({ row, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const queued = this.queue;
    this.queue = [];
    const chunks: Array<Array<QueuedRow<Row, Result>>> = [];
    for (let start = 0; start < queued.length; start += this.options.maxRows) chunks.push(queued.slice(start, start + this.options.maxRows));
    await Promise.all(chunks.map((chunk) => this.write(chunk)));
  }

  private async write(chunk: Array<QueuedRow<Row, Result>>): Promise<void> {
    if (chunk.length > 1) {
      let results: readonly Result[] | undefined;
      try {
        results = await this.options.writeMany(chunk.map((queued) => queued.row));
      } catch {
        // Nothing of the statement was written: each row on its own tells its caller what went wrong.
      }
      if (results) {
        chunk.forEach((queued, index) => {
          queued.resolve(results[index] as Result);
        });
        return;
      }
    }
    await Promise.all(chunk.map(async (queued) => {
      try {
        queued.resolve(await this.options.writeOne(queued.row));
      } catch (err) {
        queued.reject(err);
      }
    }));
  }
}

interface QueuedRow<Row, Result> {
  readonly row: Row;
  resolve(result: Result): void;
  reject(err: unknown): void;
}
