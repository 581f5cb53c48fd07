import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { Database } from '../../src/db/database.js';
import { SERVER_CHECKPOINT_PAGES_ALONE, SERVER_CHECKPOINT_PAGES_WITH_WORKER, SqliteCheckpoints } from '../../src/db/sqlite_checkpoints.js';
import { memoryLogger } from '../ratelimit/support.js';
import { TEST_SECRET } from '../support/secret.js';
import { until } from '../support/until.js';

interface Connection {
  pragma(source: string, options?: { simple: boolean }): unknown;
  prepare(source: string): { run(...values: unknown[]): unknown };
  exec(source: string): unknown;
  close(): void;
}
const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => Connection;

/**
 * The server's SQLite checkpoints, made by a worker thread (src/db/sqlite_checkpoints.ts): the
 * server's connection copies the log itself only past a high threshold, the worker copies it
 * meanwhile, and if the worker fails the connection goes back to SQLite's default.
 */
describe('SQLite checkpoints in a worker thread', () => {
  let dir: string;
  let path: string;
  let connection: Connection;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyport-checkpoints-'));
    path = join(dir, 'keyport.db');
    connection = new Sqlite(path);
    connection.pragma('journal_mode = WAL');
    connection.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL)');
  });

  afterEach(() => {
    connection.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function write(rows: number): void {
    const insert = connection.prepare('INSERT INTO rows (value) VALUES (?)');
    for (let i = 0; i < rows; i++) insert.run('x'.repeat(2000));
  }

  it('raises the connection\'s own threshold, and the worker copies the log into the database', async () => {
    const { logger, lines } = memoryLogger('warn');
    const checkpoints = SqliteCheckpoints.start(path, connection, logger);
    try {
      expect(connection.pragma('wal_autocheckpoint', { simple: true })).to.equal(SERVER_CHECKPOINT_PAGES_WITH_WORKER);
      // ~1,500 pages of log, one commit each: past SQLite's default threshold, below the raised one,
      // so the connection copies none of it. The database file grows only as pages are copied in.
      const before = statSync(path).size;
      write(1500);
      expect(statSync(path).size, 'the connection copied nothing itself').to.equal(before);
      await until('the worker to copy the log into the database file', () => statSync(path).size >= 1500 * 2000, 5000);
      expect(lines, 'no fallback').to.deep.equal([]);
    } finally {
      await checkpoints.stop();
    }
    await checkpoints.stop();
  });

  it('hands checkpoints back to the connection, with a warning, when the worker fails', async () => {
    const { logger, lines } = memoryLogger('warn');
    // The worker opens the file with fileMustExist: a path that is not there makes it fail at once.
    const checkpoints = SqliteCheckpoints.start(join(dir, 'missing.db'), connection, logger);
    await until('the fallback', () => lines.length > 0, 5000);
    expect(connection.pragma('wal_autocheckpoint', { simple: true })).to.equal(SERVER_CHECKPOINT_PAGES_ALONE);
    const warning = JSON.parse(lines[0]!) as { level: string; message: string };
    expect(warning.level).to.equal('warn');
    expect(warning.message).to.equal('SQLite checkpoints are back on the server connection');
    await checkpoints.stop();
  });

  it('runs for a server\'s Database and stops with it; a CLI\'s Database keeps SQLite\'s own', async () => {
    connection.close();
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'keyport-checkpoints-'));
    const target = parseDatabaseUrl(`sqlite:${join(dir, 'keyport.db')}`, dir);
    const { logger } = memoryLogger('warn');
    const server = await Database.open(target, logger, { secret: TEST_SECRET, checkpointsInBackground: true });
    const cli = await Database.open(target, logger, { secret: TEST_SECRET });
    try {
      expect(await server.dataSource.query('PRAGMA wal_autocheckpoint')).to.deep.equal([{ wal_autocheckpoint: SERVER_CHECKPOINT_PAGES_WITH_WORKER }]);
      expect(await cli.dataSource.query('PRAGMA wal_autocheckpoint')).to.deep.equal([{ wal_autocheckpoint: SERVER_CHECKPOINT_PAGES_ALONE }]);
    } finally {
      await cli.close();
      await server.close();
    }
    // afterEach closes this one.
    connection = new Sqlite(join(dir, 'keyport.db'));
  });
});
