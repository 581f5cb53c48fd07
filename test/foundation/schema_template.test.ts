import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { Database } from '../../src/db/database.js';
import { createLogger } from '../../src/lib/logger.js';
import { startTestApp } from '../support/app.js';
import { createScratchDatabase, onMysql, type ScratchDatabase } from '../support/database.js';
import { describeMysqlSchema, migrateWithApp } from '../support/schema_template.js';

interface Schema {
  /** Every table (and index, on SQLite) with its DDL. */
  readonly ddl: unknown;
  /** Views, triggers, routines, events (MariaDB): none expected, none lost in the copy. */
  readonly others: string[];
  /** Rows per table: what the migrations seed. */
  readonly rows: Record<string, number>;
  /** The migrations table as TypeORM reads it. */
  readonly migrations: unknown[];
}

/** What a database holds after migrating: its DDL (SHOW CREATE TABLE / sqlite_master) and seeded rows. */
async function schemaOf(scratch: ScratchDatabase): Promise<Schema> {
  if (onMysql) {
    const url = new URL(scratch.url);
    const schema = url.pathname.slice(1);
    const connection = await mysql.createConnection({ uri: scratch.url });
    try {
      const { tables, others } = await describeMysqlSchema(connection, schema);
      const rows: Record<string, number> = {};
      for (const table of tables.keys()) {
        const [[row]] = (await connection.query(`SELECT COUNT(*) AS n FROM \`${table}\``)) as unknown as [[{ n: number }]];
        rows[table] = Number(row.n);
      }
      const [migrations] = await connection.query('SELECT * FROM keyport_migrations ORDER BY id');
      return { ddl: Object.fromEntries(tables), others, rows, migrations: migrations as unknown[] };
    } finally {
      await connection.end();
    }
  }
  const database = await Database.open(parseDatabaseUrl(scratch.url, process.cwd()), createLogger('error'), { migrate: false });
  try {
    const query = (sql: string) => database.dataSource.query(sql) as Promise<Array<Record<string, unknown>>>;
    const ddl = await query('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name');
    const rows: Record<string, number> = {};
    for (const { name } of ddl.filter((entry) => entry.type === 'table')) {
      rows[String(name)] = Number((await query(`SELECT COUNT(*) AS n FROM "${String(name)}"`))[0]!.n);
    }
    const others = (await query("SELECT type || ' ' || name AS what FROM sqlite_master WHERE type NOT IN ('table', 'index')")).map((row) => String(row.what));
    return { ddl, others, rows, migrations: await query('SELECT * FROM keyport_migrations ORDER BY id') };
  } finally {
    await database.close();
  }
}

/**
 * Test apps start on a copy of a migrated template (test/support/schema_template.ts). It must stay
 * exactly what the migrations make, or tests would run against a schema no deployment has.
 */
describe(`test support: the migrated template on ${onMysql ? 'MariaDB' : 'SQLite'}`, function () {
  this.timeout(60_000);

  it('gives a scratch database equal to a freshly migrated one: tables, DDL with foreign keys, seeded rows, migrations table', async () => {
    const copied = await createScratchDatabase();
    const fresh = await createScratchDatabase({ schema: 'empty' });
    try {
      await migrateWithApp(fresh.url);
      const [a, b] = [await schemaOf(copied), await schemaOf(fresh)];
      expect(Object.keys(a.rows)).to.include('keyport_migrations');
      expect(a.migrations).to.have.length.above(12);
      expect(a).to.deep.equal(b);
      if (onMysql) expect(JSON.stringify(a.ddl)).to.include('FOREIGN KEY');
    } finally {
      await copied.drop();
      await fresh.drop();
    }
  });

  it('is complete: an app on a copy applies no migration at start, an app on an empty database applies them all', async () => {
    const applied = (logs: string[]) => logs.filter((line) => line.includes('"migration applied"')).length;
    const onCopy = await startTestApp();
    try {
      expect(applied(onCopy.logs)).to.equal(0);
    } finally {
      await onCopy.close();
    }
    const empty = await createScratchDatabase({ schema: 'empty' });
    const onEmpty = await startTestApp({ database: empty });
    try {
      expect(applied(onEmpty.logs)).to.be.above(12);
    } finally {
      await onEmpty.close();
      await empty.drop();
    }
  });
});
