import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The worker thread of src/db/sqlite_checkpoints.ts: its own connection to the server's SQLite
 * file, copying the write-ahead log into the database every `intervalMs` (a PASSIVE checkpoint:
 * it never waits for, or blocks, the server's connection). A checkpoint that fails is reported to
 * the server and tried again at the next interval. Stops on the message `stop`.
 */
interface CheckpointWorkerData {
  readonly path: string;
  readonly intervalMs: number;
}

/** The part of better-sqlite3 used here (the package has no types of its own; TypeORM loads it the same way). */
type SqliteDatabase = new (path: string, options: { fileMustExist: boolean }) => {
  prepare(source: string): { run(): unknown };
  close(): void;
};

const { path, intervalMs } = workerData as CheckpointWorkerData;
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as SqliteDatabase;
const connection = new BetterSqlite3(path, { fileMustExist: true });
const checkpoint = connection.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    checkpoint.run();
  } catch (err) {
    // A full disk, an I/O error: the next interval tries again; the server logs it (flood-limited).
    const { message, code } = err as Error & { code?: unknown };
    parentPort!.postMessage({ failed: { message, code: typeof code === 'string' ? code : undefined } });
  }
}, intervalMs);

parentPort!.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  connection.close();
  parentPort!.close();
});
