import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { Database } from '../../src/db/database.js';
import { createLogger } from '../../src/lib/logger.js';
import { TEST_SECRET } from './secret.js';

/**
 * A migrated schema built once per test process and copied into each scratch database, so a test
 * app finds every migration applied and runs none at start. Running the 13+ migrations cost about
 * 0.45 s per app on MariaDB (some 200 apps a suite); copying the file (SQLite) or replaying the
 * captured DDL in one round trip (MariaDB) costs a fraction of that. The template is made by the
 * app's own migration code (Database.open), and test/foundation/schema_template.test.ts checks that
 * a copy equals a freshly migrated database, so the two cannot drift apart.
 */

const quiet = () => createLogger('error', new Writable({ write(_chunk, _enc, done) { done(); } }));

/** Runs the app's migrations on `url`, as the app does at start (same secret as test apps). */
export async function migrateWithApp(url: string): Promise<void> {
  const database = await Database.open(parseDatabaseUrl(url, process.cwd()), quiet(), { secret: TEST_SECRET });
  try {
    // Fold the WAL into the file, so the file alone is the database (closing removes -wal and -shm).
    if (database.type === 'sqlite') await database.dataSource.query('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    await database.close();
  }
}

let sqliteTemplate: Promise<string> | undefined;

/** The migrated SQLite file of this process (built on first use, removed at exit). */
function sqliteTemplateFile(): Promise<string> {
  sqliteTemplate ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyport-tpl-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'keyport.db');
    await migrateWithApp(`sqlite:${path}`);
    for (const leftover of [`${path}-wal`, `${path}-shm`, `${path}-journal`]) {
      if (existsSync(leftover)) throw new Error(`the SQLite template left ${leftover} behind: copies of the file alone would miss it`);
    }
    return path;
  })();
  return sqliteTemplate;
}

/** Copies the migrated template to `path` (a file that does not exist yet). */
export async function copySqliteTemplate(path: string): Promise<void> {
  copyFileSync(await sqliteTemplateFile(), path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
}

interface MysqlTemplate {
  readonly schema: string;
  /** `SHOW CREATE TABLE` of every table, foreign keys included. */
  readonly ddl: readonly string[];
  /** Tables the migrations put rows in (keyport_migrations, keyport_health, …). */
  readonly seeded: readonly string[];
}

const TEMPLATE_PREFIX = 'keyport_tpl_';
const mysqlTemplates = new Map<string, Promise<MysqlTemplate>>();

export const quoteName = (name: string): string => `\`${name.replaceAll('`', '``')}\``;

/**
 * The migrated template schema on the server at `server` (a URL without a database), one per
 * process: `keyport_tpl_<random>`, never shared, so concurrent test processes cannot race on it.
 * Its connection holds a named lock of the same name for the life of the process; the server
 * frees it when the process ends (even killed), and the next process to build a template drops
 * every template whose lock is free (nothing async runs at mocha's --exit, so this is the clean-up).
 */
function mysqlTemplate(server: string): Promise<MysqlTemplate> {
  let template = mysqlTemplates.get(server);
  if (!template) {
    template = buildMysqlTemplate(server);
    mysqlTemplates.set(server, template);
  }
  return template;
}

async function buildMysqlTemplate(server: string): Promise<MysqlTemplate> {
  const schema = `${TEMPLATE_PREFIX}${randomBytes(6).toString('hex')}`;
  const holder = await mysql.createConnection({ uri: server });
  holder.on('error', () => {});
  const [[locked]] = (await holder.query('SELECT GET_LOCK(?, 0) AS locked', [schema])) as unknown as [[{ locked: number }]];
  if (Number(locked.locked) !== 1) throw new Error(`could not take the lock ${schema}`);
  // Templates of processes that ended (their lock is free): dropped here, as nothing runs at a mocha --exit.
  const [others] = (await holder.query("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'keyport\\_tpl\\_%'")) as unknown as [Array<{ name: string }>];
  for (const { name } of others) {
    const [[state]] = (await holder.query('SELECT IS_FREE_LOCK(?) AS free', [name])) as unknown as [[{ free: number }]];
    if (Number(state.free) === 1) await holder.query(`DROP DATABASE IF EXISTS ${quoteName(name)}`);
  }
  await holder.query(`CREATE DATABASE ${quoteName(schema)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  const url = new URL(server);
  url.pathname = `/${schema}`;
  await migrateWithApp(url.toString());

  const described = await describeMysqlSchema(holder, schema);
  if (described.others.length > 0) {
    // Views, triggers or routines would need copying too; fail loudly rather than hand out a partial schema.
    throw new Error(`the MariaDB template copies tables only, but the migrations created: ${described.others.join(', ')}`);
  }
  const seeded: string[] = [];
  for (const table of described.tables.keys()) {
    const [[row]] = (await holder.query(`SELECT EXISTS(SELECT 1 FROM ${quoteName(schema)}.${quoteName(table)}) AS seeded`)) as unknown as [[{ seeded: number }]];
    if (Number(row.seeded) === 1) seeded.push(table);
  }
  // From now on the connection only holds the lock: it must not keep the process alive (a run
  // without --exit). Not earlier, or the process could end while awaiting the queries above.
  (holder as unknown as { connection: { stream?: { unref?(): void } } }).connection.stream?.unref?.();
  return { schema, ddl: [...described.tables.values()], seeded };
}

export interface MysqlSchemaDescription {
  /** Table name → `SHOW CREATE TABLE`, in name order. */
  readonly tables: Map<string, string>;
  /** Anything else in the schema (views, triggers, routines, events), as `kind name`. */
  readonly others: string[];
}

/** Every table's DDL in `schema`, and whatever else the schema holds. */
export async function describeMysqlSchema(connection: mysql.Connection, schema: string): Promise<MysqlSchemaDescription> {
  const [listed] = (await connection.query(
    'SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [schema],
  )) as unknown as [Array<{ name: string; type: string }>];
  const tables = new Map<string, string>();
  const others: string[] = [];
  for (const { name, type } of listed) {
    if (type !== 'BASE TABLE') {
      others.push(`${type} ${name}`);
      continue;
    }
    const [[shown]] = (await connection.query(`SHOW CREATE TABLE ${quoteName(schema)}.${quoteName(name)}`)) as unknown as [[Record<string, string>]];
    tables.set(name, shown['Create Table']!);
  }
  const [routines] = (await connection.query(
    `SELECT CONCAT('TRIGGER ', TRIGGER_NAME) AS what FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
     UNION ALL SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?
     UNION ALL SELECT CONCAT('EVENT ', EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`, [schema, schema, schema],
  )) as unknown as [Array<{ what: string }>];
  others.push(...routines.map((row) => row.what));
  return { tables, others };
}

/**
 * Creates `schema` on `server` as a copy of the template: the tables' DDL and the seeded rows, in
 * one connection and one round trip (FOREIGN_KEY_CHECKS off in that session, so the order of the
 * tables does not matter).
 */
export async function copyMysqlTemplate(server: string, schema: string): Promise<void> {
  const template = await mysqlTemplate(server);
  const connection = await mysql.createConnection({ uri: server, multipleStatements: true });
  try {
    await connection.query([
      `CREATE DATABASE ${quoteName(schema)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      `USE ${quoteName(schema)}`,
      'SET FOREIGN_KEY_CHECKS = 0',
      ...template.ddl,
      ...template.seeded.map((table) => `INSERT INTO ${quoteName(table)} SELECT * FROM ${quoteName(template.schema)}.${quoteName(table)}`),
    ].join(';\n'));
  } catch (err) {
    await connection.query(`DROP DATABASE IF EXISTS ${quoteName(schema)}`).catch(() => {});
    throw err;
  } finally {
    await connection.end();
  }
}
