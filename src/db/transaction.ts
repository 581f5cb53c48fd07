import type { DataSource, EntityManager } from 'typeorm';

const sqliteQueues = new WeakMap<DataSource, Promise<unknown>>();

/**
 * `dataSource.transaction(work)`, made safe for concurrent callers on SQLite. TypeORM's
 * better-sqlite3 driver shares one connection (one query runner) between all callers, so two
 * overlapping transactions issue BEGIN twice and both fail. On SQLite transactions therefore
 * queue, per DataSource; MySQL takes a pooled connection per transaction and needs no queue.
 * Every SQLite transaction in Keyport goes through this queue.
 */
export function runInTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (dataSource.options.type !== 'better-sqlite3') return dataSource.transaction(work);
  const previous = sqliteQueues.get(dataSource) ?? Promise.resolve();
  const run = previous.then(() => dataSource.transaction(work), () => dataSource.transaction(work));
  sqliteQueues.set(dataSource, run.catch(() => undefined));
  return run;
}
