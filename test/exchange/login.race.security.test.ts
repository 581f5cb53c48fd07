import { expect } from 'chai';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { agentKey, exchangeForm, fixture, introspect, login, API_KEY_TYPE, type ExchangeFixture } from './support.js';

/** One token, one session row, however many identical requests arrive at once. */
describe('exchange: concurrent identical requests mint exactly one token', () => {
  let fx: ExchangeFixture;
  let second: TestApp;
  before(async () => {
    fx = await fixture();
    // A second instance on the same database: no shared memory, only the database between them.
    second = await startTestApp({ database: fx.app.database, env: { ISSUER: fx.app.config.issuer } });
  });
  after(async () => {
    await second.close();
    await fx.app.close();
  });

  const rowsOf = (keyId: string) => fx.app.services.database.dataSource.getRepository(ApiKeySession).findBy({ keyId });

  function issuedCount(app: TestApp): Promise<number> {
    return app.services.metrics.tokensIssued.get().then((metric) => metric.values
      .filter((value) => value.labels.kind === 'access_token')
      .reduce((sum, value) => sum + value.value, 0));
  }

  it('20 parallel /auth/login with the same key and session on one instance', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const before = await issuedCount(fx.app);
    const answers = await Promise.all(Array.from({ length: 20 }, () => login(fx.app, apiKey, { session_id: 'stampede' })));
    for (const res of answers) expect(res.status, res.text).to.equal(200);
    expect(new Set(answers.map((res) => res.body.access_token)).size).to.equal(1);
    expect(new Set(answers.map((res) => res.body.refresh_token)).size).to.equal(1);
    expect(await rowsOf(key.id)).to.have.length(1);
    expect(await issuedCount(fx.app)).to.equal(before + 1);
  });

  it('20 parallel requests split across two instances sharing the database', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const before = (await issuedCount(fx.app)) + (await issuedCount(second));
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(i % 2 ? second : fx.app, apiKey, { session_id: 'across' })));
    for (const res of answers) expect(res.status, res.text).to.equal(200);
    const tokens = new Set(answers.map((res) => res.body.access_token));
    expect(tokens.size).to.equal(1);
    expect(await rowsOf(key.id)).to.have.length(1);
    expect((await issuedCount(fx.app)) + (await issuedCount(second))).to.equal(before + 1);
    expect((await introspect(fx, [...tokens][0]!)).active).to.equal(true);
  });

  it('20 parallel RFC 8693 exchanges mixed with /auth/login on both instances: one token per session', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => {
      const app = i % 2 ? second : fx.app;
      return i % 4 < 2
        ? login(app, apiKey, { session_id: 'mixed' })
        : exchangeForm(app, { subject_token: apiKey, subject_token_type: API_KEY_TYPE, session_id: 'mixed' });
    }));
    for (const res of answers) expect(res.status, res.text).to.equal(200);
    expect(new Set(answers.map((res) => res.body.access_token)).size).to.equal(1);
    expect(await rowsOf(key.id)).to.have.length(1);
  });

  it('parallel requests for different sessions get different tokens and one row each', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(i % 2 ? second : fx.app, apiKey, { session_id: `s-${i % 5}` })));
    for (const res of answers) expect(res.status, res.text).to.equal(200);
    const bySession = new Map<string, Set<string>>();
    for (const res of answers) {
      const set = bySession.get(res.body.session_id) ?? new Set<string>();
      set.add(res.body.access_token);
      bySession.set(res.body.session_id, set);
    }
    expect(bySession.size).to.equal(5);
    for (const set of bySession.values()) expect(set.size).to.equal(1);
    expect(await rowsOf(key.id)).to.have.length(5);
  });

  it('the database decides: of 10 concurrent inserts and then 10 concurrent claims, exactly one wins each', async () => {
    const { key, agent } = await agentKey(fx.app);
    const stores = [fx.app.services.exchange.sessions, second.services.exchange.sessions];
    const now = new Date();
    const session = (i: number) => ({
      id: `ses_race${i}`, keyId: key.id, agentId: agent.id, sessionId: 'db', sessionHash: 'd'.repeat(64), createdAt: now, expiresAt: new Date(now.getTime() + 60_000),
    });
    const inserted = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.insertClaimed(session(i), `c${i}`, new Date(now.getTime() + 10_000), now)));
    expect(inserted.filter((outcome) => outcome === 'inserted')).to.have.length(1);
    expect(inserted.filter((outcome) => outcome === 'exists')).to.have.length(9);
    const [row] = await rowsOf(key.id);
    await stores[0]!.releaseClaim(row!.id, row!.claimedBy!);
    const claimed = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.claim(row!.id, 0, `k${i}`, new Date(), new Date(Date.now() + 10_000))));
    expect(claimed.filter(Boolean)).to.have.length(1);
  });

  it('MySQL: two instances creating one session while a third insert of it rolls back are both answered (the deadlock victim runs again)', async function () {
    const dataSource = fx.app.services.database.dataSource;
    if (dataSource.options.type === 'better-sqlite3') this.skip();
    const { key, agent } = await agentKey(fx.app);
    const now = new Date();
    const session = (id: string) => ({
      id, keyId: key.id, agentId: agent.id, sessionId: 'rolled-back', sessionHash: 'e'.repeat(64), createdAt: now, expiresAt: new Date(now.getTime() + 60_000),
    });
    // A transaction of its own inserts the session first and holds it (as a batch does that is about to fail and roll back).
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    try {
      await holder.startTransaction();
      await holder.manager.getRepository(ApiKeySession).insert({ ...session('ses_holder'), version: 0 });
      const inserts = [fx.app.services.exchange.sessions, second.services.exchange.sessions]
        .map((store, i) => store.insertClaimed(session(`ses_waiter${i}`), `w${i}`, new Date(now.getTime() + 10_000), now));
      // Both wait on the holder's row (the server's list of this database's running statements), then
      // it rolls back: InnoDB lets both in at once and picks one as a deadlock victim.
      const deadline = Date.now() + 5_000;
      for (;;) {
        const [{ waiting }] = await holder.query(`SELECT COUNT(*) AS waiting FROM information_schema.PROCESSLIST
          WHERE DB = DATABASE() AND COMMAND = 'Query' AND INFO LIKE 'INSERT INTO \`api_key_sessions\`%'`);
        if (Number(waiting) >= 2) break;
        if (Date.now() > deadline) throw new Error(`the two inserts did not both wait on the held row (${waiting} waiting)`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await holder.rollbackTransaction();
      const outcomes = await Promise.all(inserts);
      expect([...outcomes].sort()).to.deep.equal(['exists', 'inserted']);
      expect(await rowsOf(key.id)).to.have.length(1);
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  });

  it('a stuck claim (a crashed minter) lapses and does not block the session for good', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'stuck' });
    const repository = fx.app.services.database.dataSource.getRepository(ApiKeySession);
    // Someone claimed the session to mint, then died; their claim has lapsed. The stored token is gone too.
    await repository.update({ keyId: key.id }, { claimedBy: 'crashed', claimedUntil: new Date(Date.now() - 1000), tokenExpiresAt: new Date(Date.now() - 1000) });
    const res = await login(second, apiKey, { session_id: 'stuck' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.access_token).not.to.equal(first.body.access_token);
    const [row] = await rowsOf(key.id);
    expect(row!.claimedBy).to.equal(null);
  });
});
