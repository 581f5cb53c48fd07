import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { QueryFailedError } from 'typeorm';
import { isLockConflict, LOCK_CONFLICT_ATTEMPTS, LOCK_CONFLICT_PAUSE_MS, retryOnLockConflict } from '../../src/db/lock_conflicts.js';

/** A driver error as mysql2 reports it, wrapped as TypeORM and SqlRunner wrap it. */
function driverFailure(code: string): QueryFailedError {
  return new QueryFailedError('INSERT …', [], Object.assign(new Error(code), { code }));
}

/** A statement that fails with each of `failures` in turn, then answers `done`; `attemptedAt` holds `now()` at each call. */
function statementFailing(failures: readonly Error[], now: () => number = Date.now): { run: () => Promise<string>; readonly calls: number; readonly attemptedAt: readonly number[] } {
  const attemptedAt: number[] = [];
  return {
    run: async () => {
      attemptedAt.push(now());
      const failure = failures[attemptedAt.length - 1];
      if (failure) throw failure;
      return 'done';
    },
    get calls() { return attemptedAt.length; },
    attemptedAt,
  };
}

describe('foundation: statements rolled back by a lock conflict run again (src/db/lock_conflicts.ts)', () => {
  it('knows a deadlock victim, a lock wait timeout and a busy SQLite handle, wrapped or not; nothing else', () => {
    for (const code of ['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY']) {
      expect(isLockConflict(driverFailure(code)), code).to.equal(true);
      expect(isLockConflict(Object.assign(new Error(code), { code })), `${code} unwrapped`).to.equal(true);
    }
    for (const code of ['ER_DUP_ENTRY', 'ECONNRESET', 'SQLITE_CONSTRAINT_UNIQUE']) expect(isLockConflict(driverFailure(code)), code).to.equal(false);
    expect(isLockConflict(new Error('Deadlock found when trying to get lock'))).to.equal(false);
    expect(isLockConflict(undefined)).to.equal(false);
  });

  it('runs a deadlock victim again until it goes through', async () => {
    const statement = statementFailing([driverFailure('ER_LOCK_DEADLOCK'), driverFailure('ER_LOCK_DEADLOCK')]);
    expect(await retryOnLockConflict(statement.run)).to.equal('done');
    expect(statement.calls).to.equal(3);
  });

  it(`gives up after ${LOCK_CONFLICT_ATTEMPTS} attempts in all, with the last conflict`, async () => {
    const failures = Array.from({ length: LOCK_CONFLICT_ATTEMPTS + 1 }, () => driverFailure('ER_LOCK_DEADLOCK'));
    const statement = statementFailing(failures);
    const err = await retryOnLockConflict(statement.run).then(() => undefined, (e: unknown) => e);
    expect(err).to.equal(failures[LOCK_CONFLICT_ATTEMPTS - 1]);
    expect(statement.calls).to.equal(LOCK_CONFLICT_ATTEMPTS);
  });

  it('pauses before each further attempt, at random and longer after each conflict, so that a herd of victims spreads out', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout'] });
    const random = Math.random;
    const draws = [0.99, 0.75];
    Math.random = () => draws.shift() ?? 0;
    try {
      const statement = statementFailing([driverFailure('ER_LOCK_DEADLOCK'), driverFailure('ER_LOCK_DEADLOCK')], () => clock.now);
      const result = retryOnLockConflict(statement.run);
      await clock.runAllAsync();
      expect(await result).to.equal('done');
      expect(statement.calls).to.equal(3);
      // The draw × the pause × the attempts made so far: 0.99 × 8 × 1, then 0.75 × 8 × 2 (timers count whole milliseconds).
      const [first, second, third] = statement.attemptedAt as [number, number, number];
      expect(second - first).to.be.within(Math.floor(0.99 * LOCK_CONFLICT_PAUSE_MS), Math.ceil(0.99 * LOCK_CONFLICT_PAUSE_MS));
      expect(third - second).to.be.within(Math.floor(0.75 * LOCK_CONFLICT_PAUSE_MS * 2), Math.ceil(0.75 * LOCK_CONFLICT_PAUSE_MS * 2));
    } finally {
      Math.random = random;
      clock.uninstall();
    }
  });

  it('passes any other failure on at once (a duplicate key is an answer, not a conflict)', async () => {
    const duplicate = driverFailure('ER_DUP_ENTRY');
    const statement = statementFailing([duplicate]);
    const err = await retryOnLockConflict(statement.run).then(() => undefined, (e: unknown) => e);
    expect(err).to.equal(duplicate);
    expect(statement.calls).to.equal(1);
  });
});
