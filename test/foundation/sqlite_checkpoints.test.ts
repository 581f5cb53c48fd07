import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { DataSource } from 'typeorm';
import { createDataSource, SQLITE_WAL_CHECKPOINT_PAGES } from '../../src/db/data_source.js';

const PAGE_BYTES = 4096;

describe('SQLite checkpoints the write-ahead log every 4,000 pages (src/db/data_source.ts)', () => {
  let dir: string;
  let dataSource: DataSource;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyport-checkpoints-'));
    dataSource = createDataSource({ type: 'sqlite', path: join(dir, 'keyport.sqlite') });
    await dataSource.initialize();
  });

  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets the threshold on every connection it opens', async () => {
    const [row] = await dataSource.query('PRAGMA wal_autocheckpoint') as Array<{ wal_autocheckpoint: number }>;
    expect(row?.wal_autocheckpoint).to.equal(SQLITE_WAL_CHECKPOINT_PAGES).and.to.equal(4000);
  });

  it('lets the log grow past SQLite\'s default of 1,000 pages, and no further than the threshold', async () => {
    await dataSource.query('CREATE TABLE pages (v BLOB NOT NULL)');
    const wal = join(dir, 'keyport.sqlite-wal');
    const commitPages = async (count: number): Promise<void> => {
      // One page-sized row per commit: each commit appends at least one page of log.
      for (let i = 0; i < count; i += 1) await dataSource.query('INSERT INTO pages (v) VALUES (randomblob(3500))');
    };
    await commitPages(1500);
    // Under the default the log would have been copied back and restarted at 1,000 pages.
    expect(statSync(wal).size).to.be.greaterThan(1500 * PAGE_BYTES);
    await commitPages(4000);
    // Checkpointed at 4,000 pages, then reused from its start: the file does not keep growing.
    expect(statSync(wal).size).to.be.within(4000 * PAGE_BYTES, 4500 * PAGE_BYTES);
  });
});
