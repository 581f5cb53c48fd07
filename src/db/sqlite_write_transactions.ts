import type { DataSource, QueryRunner } from 'typeorm';

/** What TypeORM's SQLite query runner sends to open a transaction (typeorm 1.x, AbstractSqliteQueryRunner). */
const TYPEORM_BEGIN = 'BEGIN TRANSACTION';
/** What Keyport sends instead: the write lock is taken at BEGIN, waiting out `busy_timeout` like any write. */
const BEGIN_IMMEDIATE = 'BEGIN IMMEDIATE TRANSACTION';

/**
 * Makes every transaction TypeORM opens on this SQLite DataSource a write transaction from its
 * BEGIN (`BEGIN IMMEDIATE`). Called once, by `createDataSource`, on the DataSource it builds.
 *
 * Why: TypeORM opens SQLite transactions DEFERRED. A deferred transaction that reads and then
 * writes (create a key: read the agent, insert the key) holds only a read snapshot until its first
 * write. If another connection commits in between (the server's writes, while a CLI command runs
 * against the same file, or the other way round), SQLite cannot upgrade the snapshot and fails the
 * write at once with SQLITE_BUSY_SNAPSHOT, "database is locked", without waiting: `busy_timeout`
 * only applies to a connection that holds no transaction yet. With BEGIN IMMEDIATE the second
 * writer waits at its BEGIN, up to `busy_timeout`, and both commit.
 *
 * How: better-sqlite3's driver hands out one query runner per DataSource; each runner it creates
 * gets its `query` wrapped so the one statement TypeORM opens a transaction with is replaced.
 * Savepoints (nested transactions) are untouched. test/foundation/sqlite_write_transactions.test.ts
 * fails if TypeORM stops sending exactly `TYPEORM_BEGIN`.
 */
export function beginSqliteTransactionsImmediately(dataSource: DataSource): void {
  if (dataSource.options.type !== 'better-sqlite3') return;
  const driver = dataSource.driver as { createQueryRunner(mode: 'master' | 'slave'): QueryRunner };
  const createQueryRunner = driver.createQueryRunner.bind(driver);
  const wrapped = new WeakSet<QueryRunner>();
  driver.createQueryRunner = (mode) => {
    const runner = createQueryRunner(mode);
    if (!wrapped.has(runner)) {
      wrapped.add(runner);
      const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<unknown>;
      runner.query = ((sql: string, ...rest: unknown[]) => query(sql === TYPEORM_BEGIN ? BEGIN_IMMEDIATE : sql, ...rest)) as QueryRunner['query'];
    }
    return runner;
  };
}
