import { expect } from 'chai';
import { isWellFormedApiKey, looksLikeApiKey } from '../../src/keys/key_material.js';
import { redactText } from '../../src/lib/redact.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { expectError, TEST_ACTOR } from './helpers.js';

const ALNUM = 'AbCdEfGhIjKlMnOpQrStUvWxYz012345';

/** Malformed agent access tokens never reach the database and answer exactly like unknown ones (docs/reference.md §3, §4). */
describe('agent access tokens: malformed values, legacy agent ids, refusals', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp({ env: { ALLOW_QUERY_API_KEY: 'true', RATE_LIMIT_KEY_FAILURES_PER_IP: '1000' } }); });
  after(async () => { await app.close(); });

  const MALFORMED = [
    `agt_${ALNUM.slice(0, 31)}`, // too short
    `agt_${ALNUM}x`, // too long
    `agt_${ALNUM.slice(0, 31)}-`, // outside [A-Za-z0-9]
    `agt_${ALNUM.slice(0, 31)}_`,
    `agt_${ALNUM.slice(0, 31)}é`,
    `AGT_${ALNUM}`,
    'agt_6fJq2dN8pXr4Lk1MzT0v', // an agent id of the old form, pasted as a credential
    'agt_',
  ];

  it('recognises agt_ + exactly 32 of [A-Za-z0-9] and nothing else', () => {
    expect(isWellFormedApiKey(`agt_${ALNUM}`)).to.equal(true);
    for (const value of MALFORMED) expect(isWellFormedApiKey(value), value).to.equal(false);
    expect(looksLikeApiKey(`agt_${ALNUM}`)).to.equal(true);
    expect(looksLikeApiKey('agent_6fJq2dN8pXr4Lk1MzT0v')).to.equal(false);
  });

  it('answers malformed values without a database read', async () => {
    const { verifier } = app.services.keys;
    const keys = (verifier as unknown as { keys: { createQueryBuilder: unknown } }).keys;
    const original = keys.createQueryBuilder;
    keys.createQueryBuilder = () => { throw new Error('the database was asked'); };
    try {
      for (const value of MALFORMED) expect((await verifier.verify(value, '127.0.0.1')).ok, value).to.equal(false);
      for (const value of MALFORMED) expect(await verifier.verify(value, '127.0.0.1'), value).to.deep.equal({ ok: false, reason: 'invalid' });
    } finally {
      keys.createQueryBuilder = original;
    }
  });

  it('gives malformed and unknown tokens the same invalid_api_key answer in every place a key may be presented', async () => {
    const unknown = `agt_${ALNUM}`;
    const bodyOf = (res: { body: { error: { code: string; message: string } } }) => ({ code: res.body.error.code, message: res.body.error.message });
    const reference = await app.http().get('/auth/test').set('Authorization', `Bearer ${unknown}`);
    expectError(reference, 401, 'invalid_api_key');
    // `AGT_…` does not start like a key: it is judged as a bearer token (invalid_token), as before.
    for (const value of [...MALFORMED.filter((item) => !/é|^AGT_/.test(item)), unknown]) {
      const bearer = await app.http().get('/auth/test').set('Authorization', `Bearer ${value}`);
      expectError(bearer, 401, 'invalid_api_key');
      expect(bodyOf(bearer)).to.deep.equal(bodyOf(reference));
      expectError(await app.http().post('/auth/login').set('X-API-Key', value).send({}), 401, 'invalid_api_key');
      expectError(await app.http().post('/auth/login').send({ api_key: value }), 401, 'invalid_api_key');
      expectError(await app.http().get(`/auth/test?access_token_query=${encodeURIComponent(value)}`), 401, 'invalid_api_key');
    }
  });

  it('refuses agt_ tokens at the admin API like any API key (exchange it first)', async () => {
    const agent = await app.services.keys.agents.create({ name: 'admin-try' }, TEST_ACTOR);
    const { apiKey } = await app.services.keys.agentTokens.create(agent.id, { scopes: 'admin', accessType: 'admin' }, TEST_ACTOR);
    const res = await app.http().get('/admin/agents').set('Authorization', `Bearer ${apiKey}`);
    expect(res.status).to.equal(401);
    expect(res.body.error.code).to.equal('invalid_token');
  });

  it('refuses env test, unknown and revoked agents, and rotate/revoke without a token', async () => {
    const code = (promise: Promise<unknown>) => promise.then(() => 'ok', (err: { code?: string }) => err.code);
    const { agentTokens, agents } = app.services.keys;
    const agent = await agents.create({ name: 'refusals' }, TEST_ACTOR);
    expect(await code(agentTokens.create(agent.id, { env: 'test' }, TEST_ACTOR))).to.equal('invalid_request');
    expect(await code(agentTokens.create('agent_doesnotexist', {}, TEST_ACTOR))).to.equal('not_found');
    expect(await code(agentTokens.rotate(agent.id, {}, TEST_ACTOR))).to.equal('not_found');
    expect(await code(agentTokens.revoke(agent.id, TEST_ACTOR))).to.equal('not_found');
    await agents.revoke(agent.id, TEST_ACTOR);
    expect(await code(agentTokens.create(agent.id, {}, TEST_ACTOR))).to.equal('conflict');
  });

  it('resolves an agent id of the legacy agt_ form to the agent (one release)', async () => {
    const agent = await app.services.keys.agents.create({ name: 'legacy' }, TEST_ACTOR);
    const legacy = agent.id.replace(/^agent_/, 'agt_');
    expect((await app.services.keys.agents.get(legacy)).id).to.equal(agent.id);
    expect((await app.services.keys.agentTokens.create(legacy, {}, TEST_ACTOR)).key.agentId).to.equal(agent.id);
  });

  it('redacts agent access tokens in free text, not agent ids', () => {
    const token = `agt_${ALNUM}`;
    expect(redactText(`key ${token} used`)).not.to.include(ALNUM);
    expect(redactText('agent agt_6fJq2dN8pXr4Lk1MzT0v')).to.include('agt_6fJq2dN8pXr4Lk1MzT0v');
  });
});
