import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource } from 'typeorm';
import { DEFAULT_DATABASE_LIMITS, type DatabaseLimits } from '../config/config.js';
import type { DatabaseTarget } from '../config/database_url.js';
import { migrationsFor } from '../../migrations/index.js';
import { tokenIdsFor } from '../oidc/token_ids.js';
import { ENTITIES } from './entities/index.js';
import { beginSqliteTransactionsImmediately } from './sqlite_write_transactions.js';

export interface DataSourceOptions {
  /** Pool size, timeouts and queue bound (config `databaseLimits`). */
  readonly limits?: DatabaseLimits;
  /** KEYPORT_SECRET: migrations that convert data with keyed hashes need it (see migrations/index.ts). */
  readonly secret?: string;
}

/**
 * SQLite copies the write-ahead log back into the database file (and syncs both) in the commit that
 * takes the log past this many pages, on the event loop. SQLite's default, 1,000 pages (4 MB), came
 * around every ~100 new-session logins; a login dirties ~9 pages of log, many of them the same
 * pages as its neighbours' (index roots and the ends of append-only indexes), which a longer log
 * copies once instead of again and again, with a quarter of the syncs. 4,000 pages (16 MB of log at
 * most): new-session logins × 1.05–1.23 in three A/Bs, p99 unchanged (docs/benchmarks.md); 10,000
 * was not steadily faster and its longer checkpoints raised the p99 by a third.
 */
export const SQLITE_WAL_CHECKPOINT_PAGES = 4000;

/**
 * Prepared statements mysql2 keeps per connection. Nothing in Keyport prepares one (TypeORM and the
 * stores send text queries), but mysql2 allocates each connection's statement cache up front at its
 * size, 16,000 by default (lru.min: four arrays of that many slots, ~0.5 MB a connection): ~11 MB
 * of a 20-connection pool in the old generation (a heap profile of the server under load), which
 * every full GC marks again. A few slots stay, should a library ever prepare one.
 */
const MYSQL_PREPARED_STATEMENT_SLOTS = 16;

/**
 * Builds (does not open) the DataSource for the configured database. `synchronize` is never used.
 * The limits bound the driver's own waiting; `boundPool` (src/db/bounded_pool.ts) adds what
 * mysql2 lacks (acquire and query timeouts) once the DataSource is open.
 */
export function createDataSource(target: DatabaseTarget, options: DataSourceOptions = {}): DataSource {
  const limits = options.limits ?? DEFAULT_DATABASE_LIMITS;
  const common = {
    entities: ENTITIES,
    migrations: migrationsFor({ tokenIds: options.secret === undefined ? undefined : tokenIdsFor(options.secret) }),
    migrationsTableName: 'keyport_migrations',
    synchronize: false,
    logging: false,
  } as const;

  if (target.type === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    const dataSource = new DataSource({
      ...common,
      type: 'better-sqlite3',
      database: target.path,
      // WAL lets readers proceed while one writer commits; busy_timeout rides out short lock waits
      // when the CLI and the server touch the same file (transactions take the write lock at their
      // BEGIN so that they wait too: src/db/sqlite_write_transactions.ts). better-sqlite3 waits
      // synchronously (the whole event loop stops meanwhile), so the wait is DB_ACQUIRE_TIMEOUT_MS,
      // well below the request budget; past it the write fails with SQLITE_BUSY, which answers 503.
      enableWAL: target.path !== ':memory:',
      prepareDatabase: (db: { pragma(source: string): unknown }) => {
        db.pragma(`busy_timeout = ${Math.trunc(limits.acquireTimeoutMs)}`);
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
        db.pragma(`wal_autocheckpoint = ${SQLITE_WAL_CHECKPOINT_PAGES}`);
      },
    });
    beginSqliteTransactionsImmediately(dataSource);
    return dataSource;
  }

  return new DataSource({
    ...common,
    type: 'mysql',
    url: target.url,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    poolSize: limits.poolSize,
    // A new connection's handshake counts as acquiring one; waiters beyond the queue limit are
    // refused at once ("Queue limit reached", a 503) instead of piling up behind a stalled server.
    // maxPreparedStatements: see MYSQL_PREPARED_STATEMENT_SLOTS.
    extra: { connectTimeout: limits.acquireTimeoutMs, enableKeepAlive: true, waitForConnections: true, queueLimit: limits.queueLimit, maxPreparedStatements: MYSQL_PREPARED_STATEMENT_SLOTS },
  });
}
