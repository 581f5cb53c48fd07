import { expect } from 'chai';
import { ApiKey } from '../../src/db/entities/api_key.js';
import { AuditEvent } from '../../src/db/entities/audit_event.js';
import { claimsOf, exchangeKey, fixture, introspect, login, type ExchangeFixture } from '../exchange/support.js';
import { dumpDatabase, expectError, TEST_ACTOR, updateKeyRow } from './helpers.js';

/**
 * Agent access tokens (`agt_` + 32 characters, docs/reference.md §3): an API key in every respect,
 * presented the way the seed document shows (Bearer, `?access_token_query=`), on both databases.
 */
describe('agent access tokens (agt_…)', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture({ env: { ALLOW_QUERY_API_KEY: 'true' } }); });
  after(async () => { await fx.app.close(); });

  let counter = 0;
  async function agentWithToken(options: Parameters<ExchangeFixture['app']['services']['keys']['agentTokens']['create']>[1] = {}) {
    counter += 1;
    const agent = await fx.app.services.keys.agents.create({ name: `token-agent-${counter}` }, TEST_ACTOR);
    const created = await fx.app.services.keys.agentTokens.create(agent.id, { scopes: ['read', 'write'], ...options }, TEST_ACTOR);
    return { agent, key: created.key, token: created.apiKey };
  }

  it('issues agt_ + 32 characters of [A-Za-z0-9] from the CSPRNG, stored only as a keyed hash with an 8-character prefix', async () => {
    const { agent, key, token } = await agentWithToken();
    expect(token).to.match(/^agt_[A-Za-z0-9]{32}$/);
    expect(agent.id).to.match(/^agent_[A-Za-z0-9]{20}$/);
    expect(key).to.include({ agentId: agent.id, kind: 'agent_token', currentAgentToken: true, env: 'live', name: 'API access', prefix: token.slice(0, 8) });
    const row = await fx.app.services.database.dataSource.getRepository(ApiKey).findOneByOrFail({ id: key.id });
    expect(row.hash).to.match(/^[0-9a-f]{64}$/);
    expect(row.agentTokenOf).to.equal(agent.id);
    const dump = await dumpDatabase(fx.app);
    expect(dump).not.to.include(token.slice(8));
    const others = new Set(await Promise.all([1, 2, 3].map(async () => (await agentWithToken()).token)));
    expect(others.size).to.equal(3);
  });

  it("the seed's examples: Authorization: Bearer agt_… and ?access_token_query=agt_… on /auth/test and /auth/login", async () => {
    const { agent, key, token } = await agentWithToken();
    const bearer = await fx.app.http().get('/auth/test').set('Authorization', `Bearer ${token}`);
    expect(bearer.status, bearer.text).to.equal(200);
    expect(bearer.body.key).to.deep.include({ id: key.id, prefix: token.slice(0, 8), env: 'live' });
    const query = await fx.app.http().get(`/auth/test?access_token_query=${token}`);
    expect(query.status, query.text).to.equal(200);
    expect(query.body.key.id).to.equal(key.id);

    const viaBearer = await login(fx.app, token, { session_id: 'seed' });
    expect(viaBearer.status, viaBearer.text).to.equal(200);
    expect(claimsOf(viaBearer.body.access_token)).to.include({ sub: agent.id, agent_id: agent.id, api_key_id: key.id, env: 'live' });
    const viaQuery = await fx.app.http().post(`/auth/login?access_token_query=${token}`).send({ session_id: 'seed' });
    expect(viaQuery.status, viaQuery.text).to.equal(200);
    expect(viaQuery.body.access_token).to.equal(viaBearer.body.access_token);
    const viaHeader = await fx.app.http().post('/auth/login').set('X-API-Key', token).send({ session_id: 'x' });
    const viaBody = await fx.app.http().post('/auth/login').send({ api_key: token, session_id: 'b' });
    expect([viaHeader.status, viaBody.status]).to.deep.equal([200, 200]);

    // The token from the exchange works as a bearer token and introspects with the key's facts.
    const answer = await introspect(fx, viaBearer.body.access_token);
    expect(answer).to.include({ active: true, sub: agent.id, api_key_id: key.id });
    const refreshed = await fx.app.http().post('/auth/refresh').send({ refresh_token: viaBearer.body.refresh_token });
    expect(refreshed.status, refreshed.text).to.equal(200);
  });

  it('is accepted by RFC 8693 token exchange with the API-key subject token type', async () => {
    const { agent, key, token } = await agentWithToken();
    const exchanged = await exchangeKey(fx.app, token, { session_id: 'gw' });
    expect(claimsOf(exchanged.access_token)).to.include({ sub: agent.id, api_key_id: key.id });
  });

  it('holds one token per agent: a second is 409 until the first is revoked or expired', async () => {
    const { agent, key } = await agentWithToken();
    const { agentTokens } = fx.app.services.keys;
    const again = await agentTokens.create(agent.id, {}, TEST_ACTOR).then(() => undefined, (err: { code?: string }) => err.code);
    expect(again).to.equal('conflict');
    // Concurrent attempts on a fresh agent: exactly one wins, on both databases (the unique slot).
    const fresh = await fx.app.services.keys.agents.create({ name: 'racer' }, TEST_ACTOR);
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => agentTokens.create(fresh.id, {}, TEST_ACTOR).then(() => 'ok', (err: { code?: string }) => err.code)));
    expect(outcomes.filter((outcome) => outcome === 'ok')).to.have.length(1);
    expect(outcomes.filter((outcome) => outcome !== 'ok')).to.satisfy((codes: string[]) => codes.every((code) => code === 'conflict'));

    // An expired token gives up its slot; it stays listed as expired.
    await updateKeyRow(fx.app, key.id, { expiresAt: new Date(Date.now() - 1000) });
    fx.app.services.keys.verifier.clearCache();
    const replacement = await agentTokens.create(agent.id, {}, TEST_ACTOR);
    expect((await agentTokens.current(agent.id))?.id).to.equal(replacement.key.id);
    expect((await fx.app.services.keys.apiKeys.get(key.id)).currentAgentToken).to.equal(false);
  });

  it('rotates with a grace period: the successor takes the slot, the old token works until the grace ends', async () => {
    const { agent, key, token } = await agentWithToken({ ipAllowList: ['127.0.0.1'], rateLimit: { perHour: 500 } });
    const rotated = await fx.app.services.keys.agentTokens.rotate(agent.id, { grace: '1h' }, TEST_ACTOR);
    expect(rotated.apiKey).to.match(/^agt_[A-Za-z0-9]{32}$/);
    expect(rotated.key).to.include({ kind: 'agent_token', currentAgentToken: true, agentId: agent.id });
    expect(rotated.key.ipAllowList).to.deep.equal(['127.0.0.1']);
    expect(rotated.previous).to.include({ replacedBy: rotated.key.id, currentAgentToken: false });
    expect((await login(fx.app, token)).status).to.equal(200);
    expect((await login(fx.app, rotated.apiKey)).status).to.equal(200);
    expect((await fx.app.services.keys.agentTokens.current(agent.id))?.id).to.equal(rotated.key.id);

    const immediate = await fx.app.services.keys.agentTokens.rotate(agent.id, { grace: 0 }, TEST_ACTOR);
    expectError(await login(fx.app, rotated.apiKey), 401, 'revoked_api_key');
    expect((await login(fx.app, immediate.apiKey)).status).to.equal(200);
    expect(key.id).not.to.equal(immediate.key.id);
  });

  it('revocation ends the token and every token derived from it; the agent may then get a new one', async () => {
    const { agent, token } = await agentWithToken();
    const session = await login(fx.app, token, { session_id: 'doomed' });
    expect(session.status).to.equal(200);
    const revoked = await fx.app.services.keys.agentTokens.revoke(agent.id, TEST_ACTOR);
    expect(revoked.alreadyRevoked).to.equal(false);
    expectError(await login(fx.app, token), 401, 'revoked_api_key');
    const derived = await fx.app.http().get('/auth/test').set('Authorization', `Bearer ${session.body.access_token}`);
    expect(derived.status).to.equal(401);
    expect((await introspect(fx, session.body.access_token)).active).to.equal(false);
    expect(await fx.app.services.keys.agentTokens.current(agent.id)).to.equal(undefined);
    const next = await fx.app.services.keys.agentTokens.create(agent.id, {}, TEST_ACTOR);
    expect((await login(fx.app, next.apiKey)).status).to.equal(200);
    // Revoking the agent revokes its token too and frees the slot.
    await fx.app.services.keys.agents.revoke(agent.id, TEST_ACTOR);
    expectError(await login(fx.app, next.apiKey), 401, 'revoked_api_key');
    expect(await fx.app.services.keys.agentTokens.current(agent.id)).to.equal(undefined);
  });

  it('has per-token rate limits with the documented headers, an IP allow list and an expiry', async () => {
    const limited = await agentWithToken({ rateLimit: { burst: 2 } });
    const first = await login(fx.app, limited.token, { session_id: 'a' });
    expect(first.headers['x-ratelimit-limit']).to.equal('2');
    expect(first.headers['x-ratelimit-remaining']).to.equal('1');
    await login(fx.app, limited.token, { session_id: 'a' });
    const refused = await login(fx.app, limited.token, { session_id: 'a' });
    expect(refused.status).to.equal(429);
    expect(refused.body.error.code).to.equal('rate_limit_exceeded');

    const elsewhere = await agentWithToken({ ipAllowList: ['10.0.0.0/8'] });
    expectError(await login(fx.app, elsewhere.token), 403, 'ip_not_allowed');

    const shortLived = await agentWithToken({ expiresIn: '1h' });
    await updateKeyRow(fx.app, shortLived.key.id, { expiresAt: new Date(Date.now() - 1000) });
    fx.app.services.keys.verifier.clearCache();
    expectError(await login(fx.app, shortLived.token), 401, 'expired_api_key');
  });

  it('writes audit rows and usage like any key', async () => {
    const { key, token } = await agentWithToken();
    expect((await login(fx.app, token)).status).to.equal(200);
    await fx.app.services.keys.usage.flush();
    const row = await fx.app.services.database.dataSource.getRepository(ApiKey).findOneByOrFail({ id: key.id });
    expect(row.lastUsedAt).to.be.instanceOf(Date);
    const events = await fx.app.services.database.dataSource.getRepository(AuditEvent).findBy({ targetType: 'api_key', targetId: key.id });
    const createdEvent = events.find((event) => event.action === 'key.created');
    expect(createdEvent?.details).to.deep.include({ kind: 'agent_token', prefix: token.slice(0, 8), env: 'live' });
    expect(JSON.stringify(events)).not.to.include(token.slice(8));
    expect(fx.app.logs.join('\n')).not.to.include(token.slice(8));
  });

  it('agent:create --with-token semantics: the first credential is the token', async () => {
    const created = await fx.app.services.keys.agents.createWithKey({ name: 'with-token', withToken: true, key: { scopes: 'read' } }, TEST_ACTOR);
    expect(created.apiKey).to.match(/^agt_[A-Za-z0-9]{32}$/);
    expect(created.key).to.include({ kind: 'agent_token', currentAgentToken: true });
    expect((await fx.app.services.keys.agentTokens.current(created.agent.id))?.id).to.equal(created.key.id);
    expect((await login(fx.app, created.apiKey)).status).to.equal(200);
  });
});
