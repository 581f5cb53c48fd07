import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { DbKind } from './options.js';

/** A database made for one Keyport instance and thrown away afterwards. */
export interface BenchDatabase {
  readonly kind: DbKind;
  /** DATABASE_URL for Keyport. */
  readonly url: string;
  /** For the report: never includes a password. */
  readonly label: string;
  drop(): Promise<void>;
}

async function connectServer(mysqlServerUrl: string): Promise<mysql.Connection> {
  const server = new URL(mysqlServerUrl);
  server.pathname = '/';
  try {
    return await mysql.createConnection({ uri: server.toString() });
  } catch (err) {
    throw new Error(`cannot reach MySQL/MariaDB at ${server.host} (--mysql-url): ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Fails fast, before anything is measured, when --db mysql has no server to talk to. */
export async function checkMysqlServer(mysqlServerUrl: string): Promise<void> {
  await (await connectServer(mysqlServerUrl)).end();
}

/** `sqlite:` file inside the instance's own folder, or a fresh schema on the MySQL/MariaDB server. */
export async function createBenchDatabase(kind: DbKind, workDir: string, mysqlServerUrl: string): Promise<BenchDatabase> {
  if (kind === 'sqlite') {
    const file = join(workDir, 'keyport.db');
    return { kind, url: `sqlite:${file}`, label: 'SQLite (embedded file, WAL)', drop: async () => {} };
  }
  const server = new URL(mysqlServerUrl);
  server.pathname = '/';
  const name = `keyport_bench_${randomBytes(5).toString('hex')}`;
  let version = '';
  const admin = await connectServer(mysqlServerUrl);
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    const [rows] = await admin.query('SELECT VERSION() AS v');
    version = String((rows as Array<{ v: string }>)[0]?.v ?? '');
  } finally {
    await admin.end();
  }
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    kind,
    url: url.toString(),
    label: `${/mariadb/i.test(version) ? 'MariaDB' : 'MySQL'} ${version.replace(/-MariaDB.*$/i, '')} on ${server.hostname}:${server.port || 3306}`,
    async drop() {
      if (dropped) return;
      dropped = true;
      const conn = await connectServer(mysqlServerUrl);
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await conn.end();
      }
    },
  };
}
