import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentKey, login } from '../exchange/support.js';
import { sharedRedis } from '../ratelimit/support.js';
import type { ScratchDatabase } from '../support/database.js';
import { MariadbReplication } from './support/mariadb_replication.js';
import { hasBinaries, ProcessGroup, waitFor } from './support/processes.js';
import { introspect, limitIsShared, prepareRevocation, revocationReaches, rotationReaches, startPair, type Pair } from './support/scenario.js';

/** The repository (this file runs from dist/test/topology/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Issue 17 part 2, docs/scaling.md "Which reads may go to a replica": two instances on a MariaDB
 * primary with one replica (Debian's mariadbd, binlog + CHANGE MASTER TO, private ports) and
 * DATABASE_REPLICA_URLS. Listings, usage and audit pages read the replica; what must be current
 * reads the primary, so a replica that stops applying the binlog lets nothing revoked through.
 */
describe('topology: MariaDB primary + replica (DATABASE_REPLICA_URLS), two instances', function () {
  this.timeout(60_000);
  const group = new ProcessGroup();
  let replication: MariadbReplication;
  let redis: { url: string; stop(): Promise<void> } | undefined;
  let pair: Pair;

  before(async function () {
    if (!hasBinaries('mariadbd', 'mariadb-install-db')) {
      if (process.env.CI === 'true') throw new Error('mariadbd and mariadb-install-db are required under CI=true');
      console.log('    (skipped: needs Debian\'s mariadbd and mariadb-install-db)');
      this.skip();
    }
    replication = await MariadbReplication.start(group);
    redis = await sharedRedis();
    const dir = mkdtempSync(join(tmpdir(), 'keyport-replicas-'));
    const database: ScratchDatabase = { url: replication.primary.url, dir, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    pair = await startPair(redis ? { REDIS_URL: redis.url } : {}, { database, env: { DATABASE_REPLICA_URLS: replication.replica.url } });
  });
  after(async () => {
    await pair?.close();
    await redis?.stop();
    await group.stopAll();
  });

  it('has what Galera requires: every table InnoDB with a primary key, and no explicit table lock in the code', async () => {
    const tables = await pair.a.services.database.dataSource.query(
      `SELECT t.TABLE_NAME AS name, t.ENGINE AS engine, COUNT(c.CONSTRAINT_NAME) AS primaryKeys FROM information_schema.TABLES t
       LEFT JOIN information_schema.TABLE_CONSTRAINTS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY'
       WHERE t.TABLE_SCHEMA = DATABASE() GROUP BY t.TABLE_NAME, t.ENGINE`,
    ) as Array<{ name: string; engine: string; primaryKeys: number | string }>;
    expect(tables.length).to.be.greaterThan(10);
    for (const table of tables) {
      expect(Number(table.primaryKeys), `${table.name} has no primary key`).to.equal(1);
      expect(table.engine, table.name).to.equal('InnoDB');
    }
    const found = spawnSync('grep', ['-rliE', 'lock tables|get_lock\\(|engine *= *myisam', join(ROOT, 'src'), join(ROOT, 'migrations')], { encoding: 'utf8' });
    expect(found.status, found.stderr).to.equal(1);
    expect(found.stdout).to.equal('');
  });

  it('reads listings and audit pages from the replica', async () => {
    await replication.caughtUp(10_000);
    await waitFor('the replica to serve reads', () => (pair.a.services.staleReads.usableReplicas?.() ?? []).length === 1, 5_000);
    // A row only the replica has (written there without binlog): only a replica read can show it.
    await replication.onReplicaOnly('INSERT INTO audit_events (id, occurredAt, action, actor) VALUES (?, NOW(3), ?, ?)', ['evt_replicaonly0000000000', 'topology.replica_only', 'test']);
    const page = await pair.a.services.audit.page({ limit: 10, action: 'topology.replica_only' });
    expect(page.events.map((event) => event.id)).to.deep.equal(['evt_replicaonly0000000000']);
    const { key, agent } = await agentKey(pair.a);
    await replication.caughtUp(10_000);
    expect((await pair.b.services.keys.apiKeys.list({ agentId: agent.id })).map((row) => row.id)).to.deep.equal([key.id]);
  });

  it('behaves as one: shared limits, revocations and rotations', async () => {
    if (redis) await limitIsShared(pair);
    const { keyMs, tokenMs } = await revocationReaches(pair, 'a', 1_000);
    expect(Math.max(keyMs, tokenMs)).to.be.below(1_000);
    await rotationReaches(pair, 2_000);
  });

  it('accepts no revoked key, token or session because the replica is behind (SQL thread stopped)', async () => {
    const cached = await prepareRevocation(pair, 'a');
    const { apiKey: neverSeenOnB, key: neverSeenKey } = await agentKey(pair.a);
    const { apiKey: sessionKey } = await agentKey(pair.a);
    const sessionToken = (await login(pair.b, sessionKey, { session_id: 'lagging' })).body.access_token as string;
    expect(await introspect(pair.b, pair.introspectorOnB, sessionToken)).to.include({ active: true });
    await replication.caughtUp(10_000);

    await replication.stopApplying();
    // Revoked while the replica cannot see it: the key cached as good on B, its token, a key B never
    // looked up (verification after a cache miss), and a session ended on A.
    await pair.a.services.keys.apiKeys.revoke(neverSeenKey.id, { actor: 'topology-test' });
    const { keyMs, tokenMs } = await revocationReaches(pair, 'a', 1_000, cached);
    expect(Math.max(keyMs, tokenMs)).to.be.below(1_000);
    expect((await pair.b.http().get('/auth/test').set('X-API-Key', neverSeenOnB)).status).to.equal(401);
    expect((await login(pair.b, neverSeenOnB, { session_id: 'late' })).status).to.equal(401);
    await pair.a.http().delete('/auth/sessions/lagging').set('X-API-Key', sessionKey).expect(204);
    await waitFor('the ended session\'s token to be inactive on B', async () => (await introspect(pair.b, pair.introspectorOnB, sessionToken)).active === false, 1_000, 10);
    // A key made during the lag works on B at once: verification reads the primary.
    const { apiKey: fresh } = await agentKey(pair.a);
    await pair.b.http().get('/auth/test').set('X-API-Key', fresh).expect(200);

    const status = await replication.replicaStatus();
    expect(status.Slave_SQL_Running).to.equal('No');
    // The replica's delay is unknown with its SQL thread stopped: listings move to the primary.
    await waitFor('the lagging replica to be skipped', () => (pair.b.services.staleReads.usableReplicas?.() ?? []).length === 0, 3_000);
    const listed = await pair.b.services.keys.apiKeys.list({ agentId: (await pair.a.services.keys.apiKeys.get(neverSeenKey.id)).agentId });
    expect(listed[0]!.status).to.equal('revoked');

    await replication.resumeApplying();
    await replication.caughtUp(10_000);
    await waitFor('the replica to serve reads again', () => (pair.b.services.staleReads.usableReplicas?.() ?? []).length === 1, 5_000);
  });
});
