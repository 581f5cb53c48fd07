import type { DataSource } from 'typeorm';
import type { DatabaseLimits } from '../config/config.js';
import type { Logger } from '../lib/logger.js';
import { ACQUIRE_TIMEOUT, boundPoolOnCreation, type PoolBounds, QUERY_TIMEOUT } from './bounded_pool.js';

type Limits = Pick<DatabaseLimits, 'acquireTimeoutMs' | 'queryTimeoutMs'>;

/**
 * Initializes a DataSource built by `createDataSource`. On MySQL its pool is bounded from the first
 * statement TypeORM runs (src/db/bounded_pool.ts), so a server that accepts the connection and then
 * stalls fails the opening within DB_QUERY_TIMEOUT_MS instead of holding a starting server or a
 * CLI command forever. If initializing fails, nothing of it stays open: TypeORM leaves the pool
 * open when its own first statements fail, and that pool kept a command's process alive.
 *
 * @param logger given: the pool gets the database circuit (the primary); not given: no circuit
 *   (a replica, which has its own health check).
 */
export async function initializeDataSource(dataSource: DataSource, limits: Limits, options: { logger?: Logger } = {}): Promise<PoolBounds | undefined> {
  const mysql = dataSource.options.type === 'mysql';
  const pool = mysql ? boundPoolOnCreation(dataSource, limits, options) : undefined;
  try {
    await dataSource.initialize();
  } catch (err) {
    await closeDataSource(dataSource, pool?.bounds());
    throw notAnsweringWhileOpening(err, limits);
  }
  return pool?.bounds();
}

/** Closes what `initializeDataSource` opened, whether or not the DataSource got initialized. */
export async function closeDataSource(dataSource: DataSource, bounds: PoolBounds | undefined): Promise<void> {
  bounds?.breaker?.close();
  if (dataSource.isInitialized) {
    await dataSource.destroy();
    return;
  }
  // TypeORM's MysqlDriver keeps mysql2's pool in its public `pool` field (typed `any`).
  const pool = (dataSource.driver as unknown as { pool?: { end(callback: (err?: Error | null) => void): void } }).pool;
  if (pool) await new Promise<void>((resolve) => pool.end(() => resolve()));
}

/** A stalled database's timeout, reworded to say what was being done; other errors as they are. */
export function notAnsweringWhileOpening(err: unknown, limits: Limits): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === QUERY_TIMEOUT) {
    return Object.assign(new Error(`The database did not answer a statement within DB_QUERY_TIMEOUT_MS (${limits.queryTimeoutMs} ms) while opening.`, { cause: err }), { code });
  }
  if (code === ACQUIRE_TIMEOUT) {
    return Object.assign(new Error(`No database connection came within DB_ACQUIRE_TIMEOUT_MS (${limits.acquireTimeoutMs} ms) while opening.`, { cause: err }), { code });
  }
  return err;
}
