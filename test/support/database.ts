import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';

/** The suite runs on SQLite unless DATABASE_URL names a MySQL/MariaDB server (docs/reference.md §1). */
export const TEST_DATABASE_URL = process.env.DATABASE_URL;
export const onMysql = Boolean(TEST_DATABASE_URL && /^(mysql|mariadb):\/\//.test(TEST_DATABASE_URL));

export interface ScratchDatabase {
  readonly url: string;
  readonly dir: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one app instance: a SQLite file in a temp folder, or a new
 * schema on the MySQL server named by DATABASE_URL (or by `mysqlUrl`). Dropped afterwards.
 */
export async function createScratchDatabase(mysqlUrl: string | undefined = onMysql ? TEST_DATABASE_URL : undefined): Promise<ScratchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'keyport-test-'));
  if (!mysqlUrl) {
    return { url: `sqlite:${join(dir, 'keyport.db')}`, dir, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const server = new URL(mysqlUrl);
  const name = `keyport_t_${randomBytes(6).toString('hex')}`;
  server.pathname = '/';
  const admin = await mysql.createConnection({ uri: server.toString() });
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.end();
  }
  server.pathname = `/${name}`;
  return {
    url: server.toString(),
    dir,
    drop: async () => {
      const conn = await mysql.createConnection({ uri: new URL('/', server).toString() });
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await conn.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
