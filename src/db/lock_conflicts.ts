import { driverErrorCode } from './driver_errors.js';

/**
 * Lock conflicts the database resolves by rolling a statement back: InnoDB's deadlock victim
 * (ER_LOCK_DEADLOCK: the whole transaction is rolled back) and a lock wait that timed out
 * (ER_LOCK_WAIT_TIMEOUT: the statement is), SQLite's busy handle. Keyport's statements outside
 * SQLite run one per transaction (autocommit), so nothing of the statement was written and running
 * it again is the remedy MySQL's manual prescribes ("always be prepared to re-issue a transaction
 * if it fails due to deadlock").
 *
 * Where they come from: concurrent inserts of one unique key (two instances, or two batches,
 * creating the same API-key session) wait on the first one's row; when that statement fails and
 * rolls back (a batch that held the key twice), InnoDB lets the waiters in together and picks one
 * of them as a deadlock victim. Revoke-by-grant DELETEs running at once do the same.
 */
const LOCK_CONFLICT_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY']);

/** Attempts in all: a victim that is picked again on its second try gets a third. */
export const LOCK_CONFLICT_ATTEMPTS = 3;

/** Whether the error (or the driver error it wraps) is a lock conflict that rolled its statement back. */
export function isLockConflict(err: unknown): boolean {
  const code = driverErrorCode(err);
  return code !== undefined && LOCK_CONFLICT_CODES.has(code);
}

/**
 * The pause before a further attempt: up to this many milliseconds, at random, times the attempts
 * made so far. The victims of one conflict are often a herd (a batch's waiters let in together,
 * eight instances flushing usage at once); run again at the same instant they can collide again,
 * and a statement that loses three times in a row is lost (CONTRIBUTING: pause between attempts
 * that may repeat). A few milliseconds spread them over several commits.
 */
export const LOCK_CONFLICT_PAUSE_MS = 8;

/**
 * Runs a statement (one transaction on its own), again when the database rolled it back for a
 * lock conflict, up to `attempts` times in all, after a short random pause each time; any other
 * error, or the last conflict, goes on.
 */
export async function retryOnLockConflict<T>(statement: () => Promise<T>, attempts = LOCK_CONFLICT_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await statement();
    } catch (err) {
      if (attempt >= attempts || !isLockConflict(err)) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * LOCK_CONFLICT_PAUSE_MS * attempt));
  }
}
