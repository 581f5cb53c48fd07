import { expect } from 'chai';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import type { CurrentToken, NewSession } from '../../src/exchange/sessions.js';
import { fixture, agentKey, login, introspect, type ExchangeFixture } from './support.js';

/**
 * The session store sends the writes of one event-loop turn as one statement. Sharing a
 * statement must not change any single write's answer: a duplicate session still loses (and only
 * that one), a lost claim still fails to complete (and only that one).
 */
describe('exchange: batched session writes keep each write\'s own answer', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture(); });
  after(async () => { await fx.app.close(); });

  const store = () => fx.app.services.exchange.sessions;
  const rows = () => fx.app.services.database.dataSource.getRepository(ApiKeySession);

  function newSession(keyId: string, agentId: string, name: string): NewSession {
    const now = new Date();
    return { id: `ses_batch_${name}`, keyId, agentId, sessionId: name, sessionHash: name.padEnd(64, '0'), createdAt: now, expiresAt: new Date(now.getTime() + 60_000) };
  }

  function token(jti: string): CurrentToken {
    const now = Date.now();
    return {
      tokenCipher: `sealed-${jti}`, tokenJti: jti, tokenIssuedAt: new Date(now), tokenExpiresAt: new Date(now + 60_000), tokenFingerprint: 'f'.repeat(64),
      clientId: 'keyport-api-key', scope: 'read', audience: 'https://aud.example', grantId: null, refreshCipher: null,
    };
  }

  it('inserts of one turn: a duplicate among them loses alone, the others are created', async () => {
    const { key, agent } = await agentKey(fx.app);
    const until = new Date(Date.now() + 10_000);
    const first = newSession(key.id, agent.id, 'dup');
    expect(await store().insertClaimed(first, 'c-first', until, new Date())).to.equal('inserted');
    // Same turn: five new sessions and one that repeats (key, session) under another id.
    const results = await Promise.all([
      ...['a', 'b', 'c', 'd', 'e'].map((name) => store().insertClaimed(newSession(key.id, agent.id, name), `c-${name}`, until, new Date())),
      store().insertClaimed({ ...first, id: 'ses_batch_dup2' }, 'c-dup', until, new Date()),
    ]);
    expect(results).to.deep.equal(['inserted', 'inserted', 'inserted', 'inserted', 'inserted', 'exists']);
    const stored = await rows().findBy({ keyId: key.id });
    expect(stored.map((row) => row.id).sort()).to.deep.equal(['ses_batch_a', 'ses_batch_b', 'ses_batch_c', 'ses_batch_d', 'ses_batch_dup', 'ses_batch_e']);
    expect(stored.find((row) => row.id === 'ses_batch_dup')!.claimedBy).to.equal('c-first');
  });

  it('completions of one turn: a lost claim fails alone, the others are stored with their own token', async () => {
    const { key, agent } = await agentKey(fx.app);
    const until = new Date(Date.now() + 10_000);
    const names = ['p', 'q', 'r', 's'];
    for (const name of names) expect(await store().insertClaimed(newSession(key.id, agent.id, name), `c-${name}`, until, new Date())).to.equal('inserted');
    // Someone else took over r's claim (it lapsed and was claimed again).
    await rows().update({ id: 'ses_batch_r' }, { claimedBy: 'someone-else' });
    const results = await Promise.all(names.map((name) => store().complete(`ses_batch_${name}`, `c-${name}`, token(`jti-${name}`))));
    expect(results).to.deep.equal([true, true, false, true]);
    for (const name of names) {
      const row = (await rows().findOneBy({ id: `ses_batch_${name}` }))!;
      if (name === 'r') {
        expect(row.tokenJti).to.equal(null);
        expect(row.claimedBy).to.equal('someone-else');
        expect(row.version).to.equal(0);
      } else {
        expect(row.tokenJti).to.equal(`jti-${name}`);
        expect(row.tokenCipher).to.equal(`sealed-jti-${name}`);
        expect(row.claimedBy).to.equal(null);
        expect(row.claimedUntil).to.equal(null);
        expect(row.version).to.equal(1);
        expect(row.tokenExpiresAt!.getTime()).to.be.greaterThan(Date.now());
      }
    }
    // A completion already stored cannot be stored again by the same (now released) claim.
    expect(await store().complete('ses_batch_p', 'c-p', token('jti-p2'))).to.equal(false);
  });

  it('many new sessions at once over HTTP (within the burst of 20 a key may send): each its own row and its own active token', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => login(fx.app, apiKey, { session_id: `many-${i}` })));
    for (const res of answers) expect(res.status, res.text).to.equal(200);
    expect(new Set(answers.map((res) => res.body.access_token)).size).to.equal(16);
    expect(new Set(answers.map((res) => res.body.refresh_token)).size).to.equal(16);
    const stored = await rows().findBy({ keyId: key.id });
    expect(stored).to.have.length(16);
    for (const row of stored) {
      expect(row.claimedBy).to.equal(null);
      expect(row.tokenJti).to.be.a('string');
      expect(row.grantId).to.be.a('string');
    }
    // Each token is active, and each session gives its own token back on a repeat.
    for (const i of [0, 7, 15]) {
      expect((await introspect(fx, answers[i]!.body.access_token)).active).to.equal(true);
      const again = await login(fx.app, apiKey, { session_id: `many-${i}` });
      expect(again.body.access_token).to.equal(answers[i]!.body.access_token);
      expect(again.body.refresh_token).to.equal(answers[i]!.body.refresh_token);
    }
  });

  it('identical repeats started in one event-loop turn share one exchange: one read of the session, one answer (both databases)', async () => {
    const { apiKey } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'one-turn' });
    expect(first.status, first.text).to.equal(200);
    const verified = await fx.app.services.keys.verifier.verify(apiKey);
    if (!verified.ok) throw new Error(`the key did not verify: ${verified.reason}`);
    const sessions = store();
    const find = sessions.find;
    let finds = 0;
    sessions.find = (keyId, hash) => { finds += 1; return find.call(sessions, keyId, hash); };
    try {
      // Callbacks of one check phase, as requests parsed in one poll phase: microtasks run between
      // them, so on SQLite (synchronous reads) an exchange begun by the first could have settled
      // before the second began, had the flight not stayed open until the next turn.
      const answers = await new Promise<Array<Promise<{ accessToken: string }>>>((resolve) => {
        const started: Array<Promise<{ accessToken: string }>> = [];
        for (let i = 0; i < 5; i++) {
          setImmediate(() => {
            started.push(fx.app.services.exchange.sessionTokens.exchangeKey({ key: verified.key, agent: verified.agent, sessionId: 'one-turn' }));
            if (started.length === 5) resolve(started);
          });
        }
      });
      const results = await Promise.all(answers);
      expect(new Set(results.map((result) => result.accessToken))).to.deep.equal(new Set([first.body.access_token]));
      expect(finds).to.equal(1);
    } finally {
      sessions.find = find;
    }
  });
});
