import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { copyMysqlTemplate, copySqliteTemplate, quoteName } from './schema_template.js';

/** The suite runs on SQLite unless DATABASE_URL names a MySQL/MariaDB server (docs/reference.md §1). */
export const TEST_DATABASE_URL = process.env.DATABASE_URL;
export const onMysql = Boolean(TEST_DATABASE_URL && /^(mysql|mariadb):\/\//.test(TEST_DATABASE_URL));

export interface ScratchDatabase {
  readonly url: string;
  readonly dir: string;
  drop(): Promise<void>;
}

export interface ScratchOptions {
  /** The MySQL/MariaDB server to use (default: DATABASE_URL's when it names one, else SQLite). */
  readonly mysqlUrl?: string;
  /**
   * `migrated` (default): every migration already applied, copied from this process's template
   * (test/support/schema_template.ts), so the app runs none at start. `empty`: nothing at all, for
   * tests about migrations themselves (running them, the CLI's `migrate`, upgrades of old data).
   */
  readonly schema?: 'migrated' | 'empty';
}

/**
 * A fresh database for one app instance: a SQLite file in a temp folder, or a new schema on the
 * MySQL server named by DATABASE_URL (or by `mysqlUrl`). Migrated unless `schema: 'empty'`. Dropped afterwards.
 */
export async function createScratchDatabase(options: ScratchOptions = {}): Promise<ScratchDatabase> {
  const mysqlUrl = options.mysqlUrl ?? (onMysql ? TEST_DATABASE_URL : undefined);
  const migrated = (options.schema ?? 'migrated') === 'migrated';
  const dir = mkdtempSync(join(tmpdir(), 'keyport-test-'));
  if (!mysqlUrl) {
    const path = join(dir, 'keyport.db');
    if (migrated) await copySqliteTemplate(path);
    return { url: `sqlite:${path}`, dir, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const server = new URL(mysqlUrl);
  const name = `keyport_t_${randomBytes(6).toString('hex')}`;
  server.pathname = '/';
  if (migrated) {
    await copyMysqlTemplate(server.toString(), name);
  } else {
    const admin = await mysql.createConnection({ uri: server.toString() });
    try {
      await admin.query(`CREATE DATABASE ${quoteName(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    } finally {
      await admin.end();
    }
  }
  server.pathname = `/${name}`;
  return {
    url: server.toString(),
    dir,
    drop: async () => {
      const conn = await mysql.createConnection({ uri: new URL('/', server).toString() });
      try {
        await conn.query(`DROP DATABASE IF EXISTS ${quoteName(name)}`);
      } finally {
        await conn.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
