import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import { manualClock } from '../support/time.js';
import { agentKey, claimsOf, fixture, introspect, login, sleep, type ExchangeFixture } from './support.js';

describe('exchange: POST /auth/login', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture(); });
  after(async () => { await fx.app.close(); });

  const sessions = () => fx.app.services.database.dataSource.getRepository(ApiKeySession);

  it('answers the docs/reference.md §3 shape with a JWT that verifies locally against the JWKS (RFC 9068)', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app, { env: 'test' });
    const res = await login(fx.app, apiKey, { session_id: 'worker-1' });
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(Object.keys(res.body).sort()).to.deep.equal(['access_token', 'expires_in', 'refresh_token', 'scope', 'session_id', 'token_type']);
    expect(res.body).to.include({ token_type: 'Bearer', scope: 'read write', session_id: 'worker-1' });
    expect(res.body.expires_in).to.be.within(7190, 7200);
    expect(res.body.refresh_token).to.be.a('string').with.length.above(20);

    const jwks = createRemoteJWKSet(new URL('/oauth/jwks', fx.app.config.issuer));
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token, jwks, {
      issuer: fx.app.config.issuer, audience: fx.app.config.issuer, typ: 'at+jwt', algorithms: ['ES256'],
    });
    expect(protectedHeader).to.include({ alg: 'ES256', typ: 'at+jwt' });
    expect(payload).to.include({
      sub: agent.id, client_id: 'keyport-api-key', scope: 'read write', api_key_id: key.id, agent_id: agent.id,
      session_id: 'worker-1', env: 'test', access_type: 'integrations',
    });
    expect(payload.jti).to.be.a('string');
    expect(payload.sid).to.match(/^ses_/);
    expect(payload.exp! - payload.iat!).to.equal(7200);
  });

  it('introspects with api_key_id, agent_id, session_id, env and access_type besides the RFC 7662 fields', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app);
    const { body } = await login(fx.app, apiKey);
    const answer = await introspect(fx, body.access_token);
    expect(answer).to.include({
      active: true, sub: agent.id, client_id: 'keyport-api-key', scope: 'read write', token_type: 'Bearer', iss: fx.app.config.issuer,
      api_key_id: key.id, agent_id: agent.id, session_id: 'default', env: 'live', access_type: 'integrations',
    });
  });

  it('takes the key from X-API-Key or the body as well as from Authorization', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const viaHeader = await fx.app.http().post('/auth/login').set('X-API-Key', apiKey).send({ session_id: 'h' });
    const viaBody = await fx.app.http().post('/auth/login').send({ api_key: apiKey, session_id: 'b' });
    const both = await fx.app.http().post('/auth/login').set('X-API-Key', apiKey).send({ api_key: apiKey, session_id: 'b' });
    for (const res of [viaHeader, viaBody, both]) {
      expect(res.status, res.text).to.equal(200);
      expect(claimsOf(res.body.access_token).api_key_id).to.equal(key.id);
    }
    expect(both.body.access_token).to.equal(viaBody.body.access_token);
  });

  it('returns the same token for the same session, with expires_in counting down, and the same refresh token while unused', async () => {
    const { apiKey } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'same' });
    await sleep(1100);
    const second = await login(fx.app, apiKey, { session_id: 'same' });
    expect(second.status).to.equal(200);
    expect(second.body.access_token).to.equal(first.body.access_token);
    expect(second.body.refresh_token).to.equal(first.body.refresh_token);
    expect(second.body.expires_in).to.be.below(first.body.expires_in);
    expect(second.body.expires_in).to.be.at.least(first.body.expires_in - 3);
  });

  it('treats no session_id and session_id "default" as the same session, and a new session_id as a new token', async () => {
    const { apiKey } = await agentKey(fx.app);
    const none = await login(fx.app, apiKey);
    const named = await login(fx.app, apiKey, { session_id: 'default' });
    const other = await login(fx.app, apiKey, { session_id: 'other' });
    expect(none.body.session_id).to.equal('default');
    expect(named.body.access_token).to.equal(none.body.access_token);
    expect(other.body.access_token).not.to.equal(none.body.access_token);
    expect(claimsOf(other.body.access_token).sid).not.to.equal(claimsOf(none.body.access_token).sid);
  });

  it('compares session IDs exactly: case, accents and unicode forms are different sessions', async () => {
    const { apiKey } = await agentKey(fx.app);
    const ids = ['Session', 'session', 'café', 'cafe\u0301', 'Käse-🧀', '会话-一'];
    const tokens = [];
    for (const id of ids) {
      const res = await login(fx.app, apiKey, { session_id: id });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.session_id).to.equal(id);
      expect(claimsOf(res.body.access_token).session_id).to.equal(id);
      tokens.push(res.body.access_token);
    }
    expect(new Set(tokens).size).to.equal(ids.length);
    const again = await login(fx.app, apiKey, { session_id: 'Käse-🧀' });
    expect(again.body.access_token).to.equal(tokens[4]);
    const longest = 'é'.repeat(64) + '🧀'.repeat(64);
    const res = await login(fx.app, apiKey, { session_id: longest });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.session_id).to.equal(longest);
  });

  it('narrows scopes on request; another scope in the same session mints another token', async () => {
    const { apiKey } = await agentKey(fx.app, { scopes: ['read', 'write', 'delete'] });
    const narrow = await login(fx.app, apiKey, { session_id: 's', scope: 'read' });
    expect(narrow.status, narrow.text).to.equal(200);
    expect(narrow.body.scope).to.equal('read');
    expect(claimsOf(narrow.body.access_token).scope).to.equal('read');
    const reordered = await login(fx.app, apiKey, { session_id: 's', scope: 'delete  read' });
    expect(reordered.body.scope).to.equal('read delete');
    expect(reordered.body.access_token).not.to.equal(narrow.body.access_token);
    const full = await login(fx.app, apiKey, { session_id: 's' });
    expect(full.body.scope).to.equal('read write delete');
    // Both earlier tokens of the session stay valid: the session is one, its tokens several.
    expect((await introspect(fx, narrow.body.access_token)).active).to.equal(true);
    expect((await login(fx.app, apiKey, { session_id: 's' })).body.access_token).to.equal(full.body.access_token);
  });

  it('keeps the issued token encrypted in the session row, never in the clear', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const res = await login(fx.app, apiKey, { session_id: 'stored' });
    const rows = await sessions().findBy({ keyId: key.id });
    expect(rows).to.have.length(1);
    const row = rows[0]!;
    expect(row.sessionId).to.equal('stored');
    expect(row.tokenCipher).to.be.a('string').and.not.include(res.body.access_token.split('.')[1]!.slice(0, 40));
    expect(row.refreshCipher).to.be.a('string').and.not.include(res.body.refresh_token);
    const dump = JSON.stringify(await sessions().find());
    expect(dump).not.to.include(res.body.access_token);
    expect(dump).not.to.include(res.body.refresh_token);
    expect(dump).not.to.include(apiKey);
  });

  it('mints a new token once the current one is expired or nearly so', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'aging' });
    // Move the stored token's expiry instead of waiting for it.
    await sessions().update({ keyId: key.id }, { tokenExpiresAt: new Date(Date.now() + 20_000) });
    const second = await login(fx.app, apiKey, { session_id: 'aging' });
    expect(second.body.access_token).not.to.equal(first.body.access_token);
    expect(second.body.expires_in).to.be.within(7190, 7200);
    await sessions().update({ keyId: key.id }, { tokenExpiresAt: new Date(Date.now() - 1000) });
    const third = await login(fx.app, apiKey, { session_id: 'aging' });
    expect(third.body.access_token).not.to.equal(second.body.access_token);
    expect((await login(fx.app, apiKey, { session_id: 'aging' })).body.access_token).to.equal(third.body.access_token);
  });

  it('mints a new token when the current one was revoked (RFC 7009)', async () => {
    const { apiKey } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'r' });
    const revoked = await fx.app.http().post('/oauth/revoke').type('form').send({ token: first.body.access_token, client_id: 'keyport-api-key' });
    expect(revoked.status, revoked.text).to.equal(200);
    expect((await introspect(fx, first.body.access_token)).active).to.equal(false);
    const second = await login(fx.app, apiKey, { session_id: 'r' });
    expect(second.body.access_token).not.to.equal(first.body.access_token);
    expect((await introspect(fx, second.body.access_token)).active).to.equal(true);
  });

  it('never gives a key of an expiring key a token that outlives the key', async () => {
    const { apiKey } = await agentKey(fx.app, { expiresIn: 600 });
    const res = await login(fx.app, apiKey);
    expect(res.body.expires_in).to.be.within(590, 600);
    const claims = claimsOf(res.body.access_token);
    expect((claims.exp as number) - (claims.iat as number)).to.be.at.most(600);
  });

  it('counts issued tokens by grant in /metrics, not the repeats', async () => {
    const metric = async (): Promise<number> => {
      const text = (await fx.app.http().get('/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith('keyport_tokens_issued_total{grant="urn:ietf:params:oauth:grant-type:token-exchange",kind="access_token"}'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const { apiKey } = await agentKey(fx.app);
    const before = await metric();
    await login(fx.app, apiKey, { session_id: 'm1' });
    await login(fx.app, apiKey, { session_id: 'm1' });
    await login(fx.app, apiKey, { session_id: 'm2' });
    expect(await metric()).to.equal(before + 2);
  });
});

describe('exchange: POST /auth/login at the very end of a session', () => {
  // A clock that stands still, so "now" can equal the session's end to the millisecond.
  const clock = manualClock(Date.now());
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture({ clock }); });
  after(async () => { await fx.app.close(); });

  it('starts a new session when the request comes at the instant the old one ends', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'edge' });
    expect(first.status, first.text).to.equal(200);
    const repository = fx.app.services.database.dataSource.getRepository(ApiKeySession);
    const [old] = await repository.findBy({ keyId: key.id });
    // The session ends now: it counts as ended, so it must also be deleted as ended (a `<` in the
    // delete against the check's `<=` left it in place, and the exchange looped on it).
    await repository.update({ id: old!.id }, { expiresAt: new Date(clock.now()) });
    const second = await login(fx.app, apiKey, { session_id: 'edge' });
    expect(second.status, second.text).to.equal(200);
    expect(second.body.access_token).to.not.equal(first.body.access_token);
    const rows = await repository.findBy({ keyId: key.id });
    expect(rows.map((row) => row.id)).to.have.length(1).and.not.include(old!.id);
  });
});

describe('exchange: POST /auth/login while the session row neither appears nor can be created', () => {
  // The request budget: the exchange gives up after it, and so does the deadline's timer.
  const budgetMs = 2_000;
  let fx: ExchangeFixture;
  // (The database's own bounds must stay below the budget.)
  before(async () => { fx = await fixture({ env: { REQUEST_TIMEOUT_MS: String(budgetMs), DB_ACQUIRE_TIMEOUT_MS: '500', DB_QUERY_TIMEOUT_MS: '1000' } }); });
  after(async () => { await fx.app.close(); });

  it('retries with a pause between attempts: timers still run, and the budget ends it with 503', async () => {
    const { apiKey } = await agentKey(fx.app);
    const store = fx.app.services.exchange.sessions;
    const { find, insertClaimed } = store;
    // A store that answers without I/O (as SQLite does) and never lets the claim loop progress: with
    // no pause between attempts, that loop is an endless chain of promises no timer can interrupt.
    store.find = async () => null;
    store.insertClaimed = async () => 'exists';
    const started = performance.now();
    let timerFiredAfter: number | undefined;
    setTimeout(() => { timerFiredAfter = performance.now() - started; }, 50);
    try {
      const res = await login(fx.app, apiKey, { session_id: 'never-settles' });
      expect(res.status, res.text).to.equal(503);
    } finally {
      store.find = find;
      store.insertClaimed = insertClaimed;
    }
    expect(timerFiredAfter, 'a 50 ms timer fired while the exchange was retrying').to.be.a('number').and.below(budgetMs / 2);
  });
});
