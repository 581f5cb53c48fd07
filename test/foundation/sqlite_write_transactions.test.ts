import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { DataSource } from 'typeorm';
import { DEFAULT_DATABASE_LIMITS } from '../../src/config/config.js';
import { createDataSource } from '../../src/db/data_source.js';
import { runInTransaction } from '../../src/db/transaction.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => { pragma(statement: string): unknown; exec(sql: string): void; close(): void };

/**
 * Another process on the same SQLite file (a CLI command, or the server seen from the CLI), as a
 * child running raw better-sqlite3 and taking orders one line at a time on stdin.
 */
function otherProcess(path: string): { child: ChildProcessWithoutNullStreams; exited: Promise<unknown[]>; say(line: string): void; heard(line: string): Promise<void> } {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(path)});
    db.pragma('busy_timeout = 5000');
    const readline = require('node:readline').createInterface({ input: process.stdin });
    console.log('ready');
    readline.on('line', (line) => {
      if (line === 'insert') db.prepare('INSERT INTO t (v) VALUES (?)').run('other');
      else if (line === 'hold') {
        db.exec('BEGIN IMMEDIATE');
        db.prepare('INSERT INTO t (v) VALUES (?)').run('other');
        // Committed by this process on its own: the test's process is blocked in SQLite's busy wait meanwhile.
        setTimeout(() => { db.exec('COMMIT'); db.close(); process.exit(0); }, 300);
        console.log('done hold');
        return;
      }
      console.log('done ' + line);
      db.close();
      process.exit(0);
    });`;
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd() });
  // Listened for from the start: the child exits right after its last line, often before a test
  // polling for that line would attach a listener (and then waits for an exit that already happened).
  const exited = once(child, 'exit');
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  return {
    child,
    exited,
    say: (line) => child.stdin.write(`${line}\n`),
    heard: async (line) => {
      const deadline = Date.now() + 15_000;
      while (!output.split('\n').includes(line)) {
        if (Date.now() > deadline) throw new Error(`the other process never said "${line}" (said: ${JSON.stringify(output)})`);
        await sleep(10);
      }
    },
  };
}

describe('SQLite transactions take the write lock at BEGIN (src/db/sqlite_write_transactions.ts)', () => {
  let dir: string;
  let path: string;
  let dataSource: DataSource;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyport-sqlite-tx-'));
    path = join(dir, 'keyport.db');
    dataSource = createDataSource({ type: 'sqlite', path }, { limits: { ...DEFAULT_DATABASE_LIMITS, acquireTimeoutMs: 5000 } });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)');
  });
  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the write lock from BEGIN, before any statement (guards the statement TypeORM begins with)', async () => {
    const other = new Database(path);
    try {
      other.pragma('busy_timeout = 0');
      await runInTransaction(dataSource, async () => {
        expect(() => other.exec('BEGIN IMMEDIATE')).to.throw().with.property('code', 'SQLITE_BUSY');
      });
      other.exec('BEGIN IMMEDIATE');
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
  });

  it('a read-then-write transaction commits although another process writes meanwhile (it waits for ours)', async () => {
    const other = otherProcess(path);
    await other.heard('ready');
    await runInTransaction(dataSource, async (manager) => {
      await manager.query('SELECT count(*) AS n FROM t');
      other.say('insert');
      // Deferred, the other process's insert would commit now and ours would fail with SQLITE_BUSY_SNAPSHOT.
      await sleep(300);
      await manager.query("INSERT INTO t (v) VALUES ('ours')");
    });
    await other.heard('done insert');
    const [code] = await other.exited;
    expect(code).to.equal(0);
    expect((await dataSource.query('SELECT v FROM t ORDER BY id')).map((row: { v: string }) => row.v)).to.deep.equal(['ours', 'other']);
  });

  it('a read-then-write transaction begun while another process holds the write lock waits for it', async () => {
    const other = otherProcess(path);
    await other.heard('ready');
    other.say('hold');
    await other.heard('done hold');
    // Deferred, the read would see the snapshot before the other commit and the write fail with SQLITE_BUSY at once.
    await runInTransaction(dataSource, async (manager) => {
      const [{ n }] = await manager.query('SELECT count(*) AS n FROM t');
      await manager.query("INSERT INTO t (v) VALUES (?)", [`ours after ${n}`]);
    });
    const [code] = await other.exited;
    expect(code).to.equal(0);
    expect((await dataSource.query('SELECT v FROM t ORDER BY id')).map((row: { v: string }) => row.v)).to.deep.equal(['other', 'ours after 1']);
  });
});
