import { expect } from 'chai';
import { ApiKey } from '../../src/db/entities/api_key.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey } from './helpers.js';

describe('GET /auth/test with a valid API key', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp({ env: { ALLOW_QUERY_API_KEY: 'true' } }); });
  after(async () => { await app.close(); });

  it('answers the docs/reference.md §3 shape for a key in Authorization: Bearer', async () => {
    const created = await createAgentWithKey(app, { scopes: ['read', 'write'], env: 'test', accessType: 'transactional' }, { name: 'billing-bot', contactEmail: 'Ops@Example.com' });
    const res = await app.http().get('/auth/test').set('Authorization', `Bearer ${created.apiKey}`).expect(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body.authenticated).to.equal(true);
    expect(res.body.agent).to.deep.include({ id: created.agent.id, name: 'billing-bot', contact_email: 'ops@example.com', status: 'active' });
    expect(res.body.key).to.deep.include({ id: created.key.id, prefix: created.apiKey.slice(0, 12), env: 'test', access_type: 'transactional' });
    expect(res.body.scopes).to.deep.equal(['read', 'write']);
    expect(res.body.rate_limit).to.have.all.keys('limit', 'remaining', 'reset');
    // The most restrictive window after this request: the 10-second burst window (20) with one used.
    expect(res.body.rate_limit.limit).to.equal(20);
    expect(res.body.rate_limit.remaining).to.equal(19);
    expect(res.headers['x-ratelimit-remaining']).to.equal('19');
    expect(res.body.rate_limit.reset).to.be.within(Date.now() / 1000, Date.now() / 1000 + 61);
    expect(JSON.stringify(res.body)).not.to.include(created.apiKey);
  });

  it('accepts the key in X-API-Key, in the JSON body and (when allowed) in the query string', async () => {
    const created = await createAgentWithKey(app);
    for (const request of [
      app.http().get('/auth/test').set('X-API-Key', created.apiKey),
      app.http().post('/auth/test').send({ api_key: created.apiKey }),
      app.http().get('/auth/test').query({ access_token_query: created.apiKey }),
      app.http().get('/auth/test').set('Authorization', `bearer ${created.apiKey}`),
    ]) {
      const res = await request;
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.key.id).to.equal(created.key.id);
    }
  });

  it('accepts the same key presented in several places at once', async () => {
    const created = await createAgentWithKey(app);
    const res = await app.http().post('/auth/test')
      .send({ api_key: created.apiKey })
      .set('Authorization', `Bearer ${created.apiKey}`)
      .set('X-API-Key', created.apiKey)
      .query({ access_token_query: created.apiKey })
      .expect(200);
    expect(res.body.key.id).to.equal(created.key.id);
  });

  it("reports the key's own rate-limit override", async () => {
    const created = await createAgentWithKey(app, { rateLimit: { perMinute: 7 } });
    const res = await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    // 7 per minute is tighter than the default burst of 20 per 10 s; this request used one.
    expect(res.body.rate_limit).to.include({ limit: 7, remaining: 6 });
    expect(res.headers['ratelimit-policy']).to.include('q=7;w=60');
  });

  it('reports the scopes and access type of an admin key', async () => {
    const created = await createAgentWithKey(app, { scopes: 'read admin', accessType: 'admin' });
    const res = await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    expect(res.body.scopes).to.deep.equal(['read', 'admin']);
    expect(res.body.key.access_type).to.equal('admin');
  });

  it('serves a repeated verification from the cache, without reading the database', async () => {
    const created = await createAgentWithKey(app);
    // The key sweep (every 250 ms) drops cached keys whose `updatedAt` is within its 10 s look-back,
    // which a key made a moment ago is: on a busy machine a sweep could run between the two
    // requests below and rightly drop it. So the key is made to look a minute old first, and the
    // hash is then broken behind the service's back without touching `updatedAt` (no invalidation
    // of any kind): only a cached verification can still succeed.
    const keys = app.services.database.dataSource.getRepository(ApiKey);
    const aMinuteAgo = new Date(Date.now() - 60_000);
    await keys.update({ id: created.key.id }, { updatedAt: aMinuteAgo });
    await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    await keys.update({ id: created.key.id }, { hash: '0'.repeat(64), updatedAt: aMinuteAgo });
    expect(Math.abs((await keys.findOneByOrFail({ id: created.key.id })).updatedAt.getTime() - aMinuteAgo.getTime())).to.be.below(1000);
    await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    app.services.keys.verifier.clearCache();
    const after = await app.http().get('/auth/test').set('X-API-Key', created.apiKey);
    expect(after.status).to.equal(401);
    expect(after.body.error.code).to.equal('invalid_api_key');
  });

  it('records lastUsedAt without a write per request', async () => {
    const created = await createAgentWithKey(app);
    expect((await app.services.keys.apiKeys.get(created.key.id)).lastUsedAt).to.equal(null);
    const before = Date.now();
    for (let i = 0; i < 5; i += 1) await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    // Nothing is written on the request path...
    expect((await app.services.keys.apiKeys.get(created.key.id)).lastUsedAt).to.equal(null);
    // ...but in a batch shortly after.
    await app.services.keys.usage.flush();
    const lastUsed = (await app.services.keys.apiKeys.get(created.key.id)).lastUsedAt;
    expect(lastUsed).to.be.instanceOf(Date);
    expect(lastUsed!.getTime()).to.be.within(before - 1500, Date.now() + 1000);
  });
});
