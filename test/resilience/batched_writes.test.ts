import { expect } from 'chai';
import type { QueryRunner } from 'typeorm';
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { Database } from '../../src/db/database.js';
import { isDatabaseOutage } from '../../src/db/outage.js';
import { ApiKeySessionTable } from '../../src/db/stores/api_key_sessions.js';
import { createLogger } from '../../src/lib/logger.js';
import { createScratchDatabase, onMysql, type ScratchDatabase } from '../support/database.js';
import { behindProxy, type FaultProxy } from '../support/fault_proxy.js';

const LIMITS = { poolSize: 8, queueLimit: 200, acquireTimeoutMs: 300, queryTimeoutMs: 400 };

/** Three new sessions asked for in the same turn: one multi-row INSERT. */
function insertThree(sessions: ApiKeySessionTable): Promise<Array<PromiseSettledResult<unknown>>> {
  const now = new Date();
  const until = new Date(now.getTime() + 5000);
  return Promise.allSettled(['a', 'b', 'c'].map((name) => sessions.insertClaimed({
    id: `ses_stalled_${name}`, keyId: 'key_stalled', agentId: 'agt_stalled', sessionId: `stalled-${name}`, sessionHash: `hash-${name}`,
    createdAt: now, expiresAt: until,
  }, `claimer-${name}`, until, now)));
}

/** Every row failed with the batch's one outage error: nothing was tried again row by row. */
function expectFailedTogether(outcomes: Array<PromiseSettledResult<unknown>>): void {
  expect(outcomes.map((outcome) => outcome.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
  const errors = outcomes.map((outcome) => (outcome as PromiseRejectedResult).reason as Error);
  for (const err of errors) expect(isDatabaseOutage(err), String(err)).to.equal(true);
  expect(new Set(errors).size, 'the batch\'s one error, not one per row').to.equal(1);
}

/**
 * A batched write (several logins' new sessions in one INSERT) that meets a database that does not
 * answer. Retried row by row, as a batch that failed on one bad row is, each row waited the outage
 * out again: on MariaDB the statement, whose outcome is unknown, was sent a second time, and in
 * the fault suite a login waited through the whole freeze and succeeded after it, so no request
 * failed ("the fault did not take"); on SQLite each row blocked the event loop for another
 * busy_timeout. An outage fails every row of the batch at once, with the batch's error.
 */
(onMysql ? describe : describe.skip)('resilience: a batched write when MariaDB is frozen', function () {
  this.timeout(30_000);
  let scratch: ScratchDatabase;
  let database: Database;
  let sessions: ApiKeySessionTable;
  let proxy: FaultProxy;

  before(async () => {
    scratch = await createScratchDatabase();
    const proxying = await behindProxy(scratch.url);
    proxy = proxying.proxy;
    // warm: an idle pooled connection, so the statement goes out (a new one would wait for its handshake).
    database = await Database.open(parseDatabaseUrl(proxying.proxied.toString(), process.cwd()), createLogger('error'), { migrate: false, warm: true, limits: LIMITS });
    sessions = new ApiKeySessionTable(database.dataSource);
  });

  after(async () => {
    await proxy?.pass();
    await database?.close();
    await proxy?.close();
    await scratch?.drop();
  });

  it('fails every row with the statement\'s timeout, and sends the statement once', async () => {
    proxy.freeze();
    const outcomes = await insertThree(sessions);
    const held = proxy.heldFromClients().toString('latin1');
    expectFailedTogether(outcomes);
    expect(held.split('INSERT INTO').length - 1, 'INSERT statements sent while frozen').to.equal(1);
    expect(held).to.contain('ses_stalled_a').and.to.contain('ses_stalled_c');
  });
});

(onMysql ? describe.skip : describe)('resilience: a batched write when SQLite is locked by another process', function () {
  this.timeout(30_000);
  let scratch: ScratchDatabase;
  let database: Database;
  let sessions: ApiKeySessionTable;
  let other: Database;
  let holder: QueryRunner;

  before(async () => {
    scratch = await createScratchDatabase();
    const target = parseDatabaseUrl(scratch.url, process.cwd());
    database = await Database.open(target, createLogger('error'), { migrate: false, limits: LIMITS });
    sessions = new ApiKeySessionTable(database.dataSource);
    other = await Database.open(target, createLogger('error'), { migrate: false });
    holder = other.dataSource.createQueryRunner();
  });

  after(async () => {
    await holder?.release();
    await other?.close();
    await database?.close();
    await scratch?.drop();
  });

  it('fails every row once busy_timeout runs out, without waiting it out again per row', async () => {
    await holder.startTransaction();
    try {
      await holder.query('UPDATE keyport_health SET checkedAt = ? WHERE id = ?', [Date.now(), 'readiness']);
      expectFailedTogether(await insertThree(sessions));
    } finally {
      await holder.rollbackTransaction();
    }
    // The lock gone, the same statement is answered again (the key does not exist: no row lands).
    const outcomes = await insertThree(sessions);
    expect(outcomes.map((outcome) => outcome.status === 'fulfilled' && outcome.value)).to.deep.equal(['key_refused', 'key_refused', 'key_refused']);
  });
});
