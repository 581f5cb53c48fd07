import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../lib/logger.js';

/** How often the worker copies the write-ahead log into the database file. */
export const BACKGROUND_CHECKPOINT_INTERVAL_MS = 50;
/**
 * The server connection's own checkpoint threshold (pages of WAL) while the worker runs: far above
 * SQLite's default of 1000, so the connection rarely checkpoints itself, but not off. Its
 * checkpoint is what lets the next write start the log over (a checkpoint of another connection,
 * racing the writes, seldom finds the log fully copied with no write since); by then the worker
 * has copied nearly all of it, so the connection copies little. Bounds the log at ~40 MB.
 */
export const SERVER_CHECKPOINT_PAGES_WITH_WORKER = 10_000;
/** SQLite's default threshold, restored when the worker is gone. */
export const SERVER_CHECKPOINT_PAGES_ALONE = 1000;

/** The part of better-sqlite3's Database this needs. */
interface SqliteConnection {
  pragma(source: string): unknown;
}

/**
 * Checkpoints of a SQLite database in WAL mode, moved off the event loop (the server only; the
 * CLI's short runs keep SQLite's automatic ones). With the default, the connection that commits
 * the write taking the log past 1000 pages copies those pages into the database file and syncs
 * both files, synchronously, on the event loop: under a new-session login load that was ~10 % of
 * the server's CPU a login (docs/benchmarks.md). Here a worker thread with its own connection
 * copies the log every BACKGROUND_CHECKPOINT_INTERVAL_MS, and the server's connection checkpoints
 * itself only past SERVER_CHECKPOINT_PAGES_WITH_WORKER. If the worker fails, the server's
 * connection goes back to SQLite's default and a warning is logged: nothing depends on the worker
 * but speed.
 */
export class SqliteCheckpoints {
  private stopped = false;

  private constructor(private readonly worker: Worker, private readonly connection: SqliteConnection, private readonly logger: Logger) {
    worker.on('error', (err) => this.fallBack(err));
    worker.on('message', (message: { failed?: { message: string; code?: string } }) => {
      if (message.failed) this.logger.warn('SQLite checkpoint failed; the worker tries again', { code: message.failed.code, reason: message.failed.message });
    });
    worker.on('exit', (code) => {
      if (!this.stopped) this.fallBack(new Error(`the checkpoint worker exited (${code})`));
    });
  }

  /** Starts the worker for the database file at `path`, whose server connection is `connection`. */
  static start(path: string, connection: SqliteConnection, logger: Logger): SqliteCheckpoints {
    connection.pragma(`wal_autocheckpoint = ${SERVER_CHECKPOINT_PAGES_WITH_WORKER}`);
    const worker = new Worker(new URL('./sqlite_checkpoint_worker.js', import.meta.url), {
      workerData: { path, intervalMs: BACKGROUND_CHECKPOINT_INTERVAL_MS },
    });
    worker.unref();
    return new SqliteCheckpoints(worker, connection, logger);
  }

  /** Stops the worker (before the server's connection closes, which checkpoints what is left). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = once(this.worker, 'exit');
    // Unreferenced, the worker would let a process with nothing else left exit before it did,
    // in the middle of this shutdown (the server's "shut down" line never came).
    this.worker.ref();
    this.worker.postMessage('stop');
    await exited;
  }

  private fallBack(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.connection.pragma(`wal_autocheckpoint = ${SERVER_CHECKPOINT_PAGES_ALONE}`);
    this.logger.warn('SQLite checkpoints are back on the server connection', { err });
  }
}
