import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey, expectError, updateKeyRow, sleep } from './helpers.js';

const JWT = 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

describe('GET /auth/test failures (docs/reference.md §4)', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('401 missing_api_key without a key', async () => {
    expectError(await app.http().get('/auth/test'), 401, 'missing_api_key');
    expectError(await app.http().get('/auth/test').set('X-API-Key', ''), 401, 'missing_api_key');
    expectError(await app.http().get('/auth/test').set('Authorization', 'Bearer'), 401, 'missing_api_key');
    expectError(await app.http().get('/auth/test').set('Authorization', 'Basic dXNlcjpwYXNz'), 401, 'missing_api_key');
  });

  it('401 invalid_api_key with one and the same answer for malformed and unknown keys', async () => {
    const created = await createAgentWithKey(app);
    const unknown = `ak_live_${'Q'.repeat(32)}`;
    const candidates = [
      unknown,
      `${created.apiKey.slice(0, -1)}${created.apiKey.endsWith('a') ? 'b' : 'a'}`,
      'ak_live_short',
      `ak_prod_${'a'.repeat(32)}`,
      `${created.apiKey}x`,
      `ak_live_${'a'.repeat(31)}!`,
      'ak_',
      `ak_live_${'é'.repeat(32)}`,
      'not-a-key-at-all',
      'x'.repeat(4000),
    ];
    const bodies: string[] = [];
    for (const candidate of candidates) {
      const res = await app.http().get('/auth/test').set('X-API-Key', encodeURI(candidate));
      expectError(res, 401, 'invalid_api_key');
      bodies.push(JSON.stringify({ ...res.body, error: { ...res.body.error, request_id: undefined } }));
      const bearer = await app.http().get('/auth/test').set('Authorization', `Bearer ${encodeURI(candidate)}`);
      if (candidate.startsWith('ak_')) {
        expectError(bearer, 401, 'invalid_api_key');
        bodies.push(JSON.stringify({ ...bearer.body, error: { ...bearer.body.error, request_id: undefined } }));
      }
    }
    expect(new Set(bodies).size, 'no existence oracle: every body is identical').to.equal(1);
  });

  it('401 expired_api_key for a key past its expiry, even when its verification is cached', async () => {
    const past = await createAgentWithKey(app, { expiresIn: '1h' });
    await updateKeyRow(app, past.key.id, { expiresAt: new Date(Date.now() - 60_000) });
    expectError(await app.http().get('/auth/test').set('X-API-Key', past.apiKey), 401, 'expired_api_key');
    expect((await app.services.keys.apiKeys.get(past.key.id)).status).to.equal('active');

    const soon = await createAgentWithKey(app, { expiresIn: 2 });
    await app.http().get('/auth/test').set('X-API-Key', soon.apiKey).expect(200);
    const expiresAt = (await app.services.keys.apiKeys.get(soon.key.id)).expiresAt!;
    await sleep(expiresAt.getTime() - Date.now() + 100);
    expectError(await app.http().get('/auth/test').set('X-API-Key', soon.apiKey), 401, 'expired_api_key');
  });

  it('401 revoked_api_key for a revoked key', async () => {
    const created = await createAgentWithKey(app);
    await app.services.keys.apiKeys.revoke(created.key.id, { actor: 'test' });
    expectError(await app.http().get('/auth/test').set('X-API-Key', created.apiKey), 401, 'revoked_api_key');
  });

  it('403 ip_not_allowed outside the allow list', async () => {
    const created = await createAgentWithKey(app, { ipAllowList: ['10.0.0.0/8'] });
    expectError(await app.http().get('/auth/test').set('X-API-Key', created.apiKey), 403, 'ip_not_allowed');
  });

  it('400 invalid_request for two different keys, in any two places', async () => {
    const one = await createAgentWithKey(app);
    const two = await createAgentWithKey(app);
    expectError(await app.http().get('/auth/test').set('Authorization', `Bearer ${one.apiKey}`).set('X-API-Key', two.apiKey), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').set('X-API-Key', one.apiKey).send({ api_key: two.apiKey }), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').set('Authorization', `Bearer ${one.apiKey}`).send({ api_key: 'ak_live_garbage' }), 400, 'invalid_request');
  });

  it('400 invalid_request for a key beside a different bearer token, and for a non-string body key', async () => {
    const one = await createAgentWithKey(app);
    expectError(await app.http().get('/auth/test').set('Authorization', `Bearer ${JWT}`).set('X-API-Key', one.apiKey), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').send({ api_key: 12345 }), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').send({ api_key: [one.apiKey] }), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').send({ api_key: one.apiKey, extra: 1 }), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').send({ api_key: 'x'.repeat(5000) }), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').send({}), 401, 'missing_api_key');
    expectError(await app.http().post('/auth/test'), 401, 'missing_api_key');
  });

  it('leaves a bearer token that is not an API key to the bearer path (401 invalid_token here)', async () => {
    expectError(await app.http().get('/auth/test').set('Authorization', `Bearer ${JWT}`), 401, 'invalid_token');
  });

  it('ignores ?access_token_query= unless ALLOW_QUERY_API_KEY is on', async () => {
    const created = await createAgentWithKey(app);
    const res = await app.http().get('/auth/test').query({ access_token_query: created.apiKey });
    expectError(res, 401, 'missing_api_key');
    expect(res.body.error.message).to.include('ALLOW_QUERY_API_KEY');
    expect(res.body.error.message).not.to.include(created.apiKey);
  });

  it('refuses other methods and malformed bodies, never with a 500', async () => {
    for (const method of ['put', 'delete', 'patch'] as const) {
      const res = await app.http()[method]('/auth/test').send({});
      expect(res.status).to.be.oneOf([404, 405]);
    }
    expectError(await app.http().post('/auth/test').set('Content-Type', 'application/json').send('{"api_key": '), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').set('Content-Type', 'application/json').send('"ak_live_x"'), 400, 'invalid_request');
    expectError(await app.http().post('/auth/test').set('Content-Type', 'text/plain').send('ak_live_x'), 415, 'unsupported_media_type');
  });
});

describe('GET /auth/test with ALLOW_QUERY_API_KEY=true', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp({ env: { ALLOW_QUERY_API_KEY: 'true' } }); });
  after(async () => { await app.close(); });

  it('accepts a query key, refuses two different ones, and keeps it out of the access log', async () => {
    const one = await createAgentWithKey(app);
    const two = await createAgentWithKey(app);
    await app.http().get('/auth/test').query({ access_token_query: one.apiKey }).expect(200);
    expectError(await app.http().get(`/auth/test?access_token_query=${one.apiKey}&access_token_query=${two.apiKey}`), 400, 'invalid_request');
    expectError(await app.http().get('/auth/test').query({ access_token_query: one.apiKey }).set('X-API-Key', two.apiKey), 400, 'invalid_request');
    await app.http().get(`/auth/test?access_token_query=${one.apiKey}&access_token_query=${one.apiKey}`).expect(200);
    const logs = app.logs.join('\n');
    expect(logs).to.include('/auth/test');
    expect(logs).not.to.include(one.apiKey);
    expect(logs).not.to.include(two.apiKey.slice(12));
  });
});
