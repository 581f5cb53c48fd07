import { expect } from 'chai';
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { Database } from '../../src/db/database.js';
import { isDatabaseOutage } from '../../src/db/outage.js';
import { ApiKeySessionTable } from '../../src/db/stores/api_key_sessions.js';
import { createLogger } from '../../src/lib/logger.js';
import { createScratchDatabase, onMysql, type ScratchDatabase } from '../support/database.js';
import { FaultProxy } from '../support/fault_proxy.js';

const QUERY_TIMEOUT_MS = 400;

/**
 * A batched write (several logins' new sessions in one INSERT) that meets a frozen MariaDB. Its
 * statement times out, and its outcome is unknown: the server may still apply it. Retried row by
 * row, as a batch that failed on one bad row is, each row waited out the freeze again and the
 * rows were sent a second time; in the fault suite a login then waited through the whole freeze
 * and succeeded after it, and no request failed ("the fault did not take"). An outage fails the
 * batch's every row at once, with the batch's error.
 */
(onMysql ? describe : describe.skip)('resilience: a batched write when MariaDB stops answering', function () {
  this.timeout(30_000);
  let scratch: ScratchDatabase;
  let proxy: FaultProxy;
  let database: Database;
  let sessions: ApiKeySessionTable;

  before(async () => {
    scratch = await createScratchDatabase();
    const direct = new URL(scratch.url);
    proxy = await FaultProxy.start({ host: direct.hostname, port: Number(direct.port || 3306) });
    const proxied = new URL(scratch.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    database = await Database.open(parseDatabaseUrl(proxied.toString(), process.cwd()), createLogger('error'), {
      migrate: false,
      warm: true,
      limits: { poolSize: 8, queueLimit: 200, acquireTimeoutMs: 1000, queryTimeoutMs: QUERY_TIMEOUT_MS },
    });
    sessions = new ApiKeySessionTable(database.dataSource);
  });

  after(async () => {
    await proxy?.pass();
    await database?.close();
    await proxy?.close();
    await scratch?.drop();
  });

  it('fails every row of the batch with its timeout, and sends the statement once (no row-by-row retry)', async () => {
    const now = new Date();
    const until = new Date(now.getTime() + 5000);
    proxy.freeze();
    const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((name) => sessions.insertClaimed({
      id: `ses_frozen_${name}`, keyId: 'key_frozen', agentId: 'agt_frozen', sessionId: `frozen-${name}`, sessionHash: `hash-${name}`,
      createdAt: now, expiresAt: until,
    }, `claimer-${name}`, until, now)));
    const held = proxy.heldFromClients().toString('latin1');

    expect(outcomes.map((outcome) => outcome.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
    const errors = outcomes.map((outcome) => (outcome as PromiseRejectedResult).reason as Error);
    for (const err of errors) expect(isDatabaseOutage(err), String(err)).to.equal(true);
    expect(new Set(errors).size, 'the batch\'s one error').to.equal(1);
    expect(held.split('INSERT INTO').length - 1, 'INSERT statements sent while frozen').to.equal(1);
    expect(held).to.contain('ses_frozen_a').and.to.contain('ses_frozen_c');
  });
});
