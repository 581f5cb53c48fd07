import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource } from 'typeorm';
import type { DatabaseTarget } from '../config/database_url.js';
import { migrationsFor } from '../../migrations/index.js';
import { tokenIdsFor } from '../oidc/token_ids.js';
import { ENTITIES } from './entities/index.js';

export interface DataSourceOptions {
  readonly poolSize?: number;
  /** KEYPORT_SECRET: migrations that convert data with keyed hashes need it (see migrations/index.ts). */
  readonly secret?: string;
}

/** Builds (does not open) the DataSource for the configured database. `synchronize` is never used. */
export function createDataSource(target: DatabaseTarget, options: DataSourceOptions = {}): DataSource {
  const common = {
    entities: ENTITIES,
    migrations: migrationsFor({ tokenIds: options.secret === undefined ? undefined : tokenIdsFor(options.secret) }),
    migrationsTableName: 'keyport_migrations',
    synchronize: false,
    logging: false,
  } as const;

  if (target.type === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    return new DataSource({
      ...common,
      type: 'better-sqlite3',
      database: target.path,
      // WAL lets readers proceed while one writer commits; busy_timeout rides out short lock waits
      // when the CLI and the server touch the same file.
      enableWAL: target.path !== ':memory:',
      prepareDatabase: (db: { pragma(source: string): unknown }) => {
        db.pragma('busy_timeout = 5000');
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
      },
    });
  }

  return new DataSource({
    ...common,
    type: 'mysql',
    url: target.url,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    poolSize: options.poolSize ?? 20,
    extra: { connectTimeout: 5000, enableKeepAlive: true, waitForConnections: true, queueLimit: 0 },
  });
}
