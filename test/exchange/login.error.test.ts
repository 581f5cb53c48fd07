import { expect } from 'chai';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import { updateKeyRow } from '../keys/helpers.js';
import { agentKey, expectError, fixture, login, type ExchangeFixture } from './support.js';

/** Every bad request gets its docs/reference.md §4 error; none gets a 500, none leaves a session behind. */
describe('exchange: POST /auth/login failures (docs/reference.md §4)', () => {
  let fx: ExchangeFixture;
  let apiKey: string;
  let keyId: string;
  before(async () => {
    fx = await fixture({ env: { TRUST_PROXY: 'true' } });
    ({ apiKey, key: { id: keyId } } = await agentKey(fx.app));
  });
  after(async () => { await fx.app.close(); });

  const raw = (body: string, type = 'application/json') => fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('Content-Type', type).send(body);

  it('400 for malformed JSON, a non-object body, and a body that is neither JSON nor a form', async () => {
    expectError(await raw('{"session_id": '), 400, 'invalid_request');
    expectError(await raw('{"session_id": "a",}'), 400, 'invalid_request');
    expectError(await raw('["session_id"]'), 400, 'invalid_request');
    expectError(await raw('"session"'), 400, 'invalid_request');
    expectError(await raw('null'), 400, 'invalid_request');
    expectError(await raw('session_id=a', 'text/plain'), 415, 'unsupported_media_type');
  });

  it('400 for wrong types and unknown fields', async () => {
    for (const body of [
      { session_id: 42 }, { session_id: ['a'] }, { session_id: { id: 'a' } }, { session_id: true },
      { scope: ['read'] }, { scope: 1 }, { api_key: 12 }, { api_key: [apiKey] },
      { sessionId: 'a' }, { session_id: 'a', resource: 'https://api.example.com' }, { grant_type: 'password' }, { __proto__: { x: 1 }, extra: 1 },
    ]) {
      expectError(await login(fx.app, apiKey, body as Record<string, unknown>), 400, 'invalid_request');
    }
  });

  it('400 for session IDs that are empty, too long, or not printable', async () => {
    const bad = [
      '', 'a'.repeat(129), '🧀'.repeat(129), 'x'.repeat(100_000) ,
      'has space', ' lead', 'tab\there', 'new\nline', 'nul\u0000', 'bell\u0007', 'del\u007f',
      'zero\u200bwidth', 'bidi\u202eevil', 'joiner\u200d', 'bom\ufeff', 'lone\ud800', 'private\ue000', 'nbsp\u00a0', 'line\u2028sep',
    ];
    for (const sessionId of bad) {
      const res = await login(fx.app, apiKey, { session_id: sessionId });
      expect(res.status, `${JSON.stringify(sessionId).slice(0, 40)} → ${res.text}`).to.be.oneOf([400, 413]);
      expect(res.body.error.code).to.be.oneOf(['invalid_request', 'payload_too_large']);
    }
    const rows = await fx.app.services.database.dataSource.getRepository(ApiKeySession).findBy({ keyId });
    expect(rows).to.have.length(0);
  });

  it('413 for a body over the limit', async () => {
    expectError(await login(fx.app, apiKey, { session_id: 'a', pad: 'x'.repeat(70_000) }), 413, 'payload_too_large');
  });

  it('403 insufficient_scope when asking for more than the key holds; 400 for a malformed scope', async () => {
    expectError(await login(fx.app, apiKey, { scope: 'read delete' }), 403, 'insufficient_scope');
    expectError(await login(fx.app, apiKey, { scope: 'admin' }), 403, 'insufficient_scope');
    expectError(await login(fx.app, apiKey, { scope: 'read unknown-scope' }), 403, 'insufficient_scope');
    expectError(await login(fx.app, apiKey, { scope: 'openid' }), 403, 'insufficient_scope');
    expectError(await login(fx.app, apiKey, { scope: '' }), 400, 'invalid_request');
    expectError(await login(fx.app, apiKey, { scope: '   ' }), 400, 'invalid_request');
    expectError(await login(fx.app, apiKey, { scope: 'read "write"' }), 400, 'invalid_request');
    expectError(await login(fx.app, apiKey, { scope: 'read\\write' }), 400, 'invalid_request');
    expectError(await login(fx.app, apiKey, { scope: 'r'.repeat(1001) }), 400, 'invalid_request');
  });

  it('401 missing_api_key, invalid_api_key (the same answer for malformed and unknown), expired_api_key, revoked_api_key', async () => {
    expectError(await login(fx.app, undefined, { session_id: 'a' }), 401, 'missing_api_key');
    const unknown = await login(fx.app, `ak_live_${'Q'.repeat(32)}`);
    const malformed = await login(fx.app, 'ak_live_short');
    expectError(unknown, 401, 'invalid_api_key');
    expectError(malformed, 401, 'invalid_api_key');
    expect(unknown.body.error.message).to.equal(malformed.body.error.message);

    const expired = await agentKey(fx.app, { expiresIn: '1h' });
    await updateKeyRow(fx.app, expired.key.id, { expiresAt: new Date(Date.now() - 1000) });
    fx.app.services.keys.verifier.clearCache();
    expectError(await login(fx.app, expired.apiKey), 401, 'expired_api_key');

    const revoked = await agentKey(fx.app);
    await fx.app.services.keys.apiKeys.revoke(revoked.key.id, { actor: 'test' });
    expectError(await login(fx.app, revoked.apiKey), 401, 'revoked_api_key');
  });

  it('401 invalid_token for a bearer token that is not an API key', async () => {
    const res = await login(fx.app, 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln');
    expectError(res, 401, 'invalid_token');
  });

  it('403 ip_not_allowed outside the allow list', async () => {
    const fenced = await agentKey(fx.app, { ipAllowList: ['10.0.0.0/8'] });
    expectError(await fx.app.http().post('/auth/login').set('X-API-Key', fenced.apiKey).set('X-Forwarded-For', '192.0.2.1').send({}), 403, 'ip_not_allowed');
    const inside = await fx.app.http().post('/auth/login').set('X-API-Key', fenced.apiKey).set('X-Forwarded-For', '10.1.2.3').send({});
    expect(inside.status, inside.text).to.equal(200);
  });

  it('400 for two different keys in two places, or a key beside a different bearer token', async () => {
    const other = await agentKey(fx.app);
    expectError(await fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('X-API-Key', other.apiKey).send({}), 400, 'invalid_request');
    expectError(await fx.app.http().post('/auth/login').set('X-API-Key', apiKey).send({ api_key: other.apiKey }), 400, 'invalid_request');
    expectError(await fx.app.http().post('/auth/login').set('Authorization', 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln').send({ api_key: apiKey }), 400, 'invalid_request');
  });

  it('ignores ?access_token_query= unless ALLOW_QUERY_API_KEY is on', async () => {
    const res = await fx.app.http().post(`/auth/login?access_token_query=${apiKey}`).send({});
    expectError(res, 401, 'missing_api_key');
    expect(res.body.error.message).to.include('ALLOW_QUERY_API_KEY');
  });

  it('answers 405 for other methods', async () => {
    const res = await fx.app.http().get('/auth/login').set('Authorization', `Bearer ${apiKey}`);
    expect(res.status).to.be.oneOf([404, 405]);
    expect(res.text).not.to.match(/at .*\.js:\d+/);
  });
});
