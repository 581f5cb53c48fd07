import { ACQUIRE_TIMEOUT, CIRCUIT_OPEN, QUERY_TIMEOUT } from './bounded_pool.js';
import { driverErrorCode } from './driver_errors.js';

/**
 * What kind of database trouble an error shows, if any:
 * - `connection`: the database is unreachable, stalled, restarting or overloaded (network errors,
 *   a lost connection, a timeout, a full pool queue, a lock wait that ran out);
 * - `storage`: the database answers but refuses writes (disk full, read-only, I/O errors).
 * Either is an outage, not a bug: the client gets 503 with Retry-After and may retry.
 */
export type OutageKind = 'connection' | 'storage';

const CONNECTION_CODES = new Set([
  // Node's network errors, as mysql2 passes them on
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  // mysql2's own
  'PROTOCOL_CONNECTION_LOST', QUERY_TIMEOUT, 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT', 'POOL_CLOSED',
  // Keyport's bounded pool (src/db/bounded_pool.ts)
  ACQUIRE_TIMEOUT, CIRCUIT_OPEN,
  // the server's: too many connections, shutting down, lock waits, deadlocks, killed queries
  'ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS', 'ER_SERVER_SHUTDOWN', 'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK',
  'ER_QUERY_INTERRUPTED', 'ER_STATEMENT_TIMEOUT', 'ER_CLIENT_INTERACTION_TIMEOUT',
]);

const STORAGE_CODES = new Set([
  'ER_OPTION_PREVENTS_STATEMENT', 'ER_READ_ONLY_MODE', 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION',
  'ER_RECORD_FILE_FULL', 'ER_DISK_FULL', 'ER_ERROR_ON_WRITE', 'ER_OUT_OF_RESOURCES',
]);

/** SQLite's primary result codes (better-sqlite3 reports extended ones, e.g. SQLITE_IOERR_WRITE). */
const SQLITE_CONNECTION = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_NOMEM', 'SQLITE_PROTOCOL'];
const SQLITE_STORAGE = ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR'];

/** Errors without a code: mysql2's pool, TypeORM, better-sqlite3 on a closed handle. */
const CONNECTION_MESSAGES = /Pool is closed|Queue limit reached|Can't add new command when connection is in closed state|Connection lost|connection is not open|DataSource is not initialized|Connection is not established/i;

function kindOfCode(code: string): OutageKind | undefined {
  if (CONNECTION_CODES.has(code)) return 'connection';
  if (STORAGE_CODES.has(code)) return 'storage';
  if (!code.startsWith('SQLITE_')) return undefined;
  const primary = (prefixes: string[]): boolean => prefixes.some((prefix) => code === prefix || code.startsWith(`${prefix}_`));
  if (primary(SQLITE_STORAGE)) return 'storage';
  if (primary(SQLITE_CONNECTION)) return 'connection';
  return undefined;
}

/** Looks through the error and what it wraps (TypeORM's `driverError`, `cause`). */
export function databaseOutageKind(err: unknown): OutageKind | undefined {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const { code, message } = current as { code?: unknown; message?: unknown };
    const kind = typeof code === 'string' ? kindOfCode(code) : undefined;
    if (kind) return kind;
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return 'connection';
    current = (current as { driverError?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isDatabaseOutage(err: unknown): boolean {
  return databaseOutageKind(err) !== undefined;
}

/**
 * For BatchLoader's `retryAlone`: whether a multi-row statement failed because of its rows (the
 * database answered: a duplicate key, a value it refused, or a deadlock over its rows that
 * outlasted the statement's own retries), so that each row alone may fare differently. An outage is
 * no answer: each row would wait it out again (a frozen server: the query timeout once more per
 * row; a lock held elsewhere: the lock wait once more per row) and a timed-out statement, which may
 * still land, would be sent twice.
 */
export function failedOnTheRows(err: unknown): boolean {
  return driverErrorCode(err) === 'ER_LOCK_DEADLOCK' || !isDatabaseOutage(err);
}
