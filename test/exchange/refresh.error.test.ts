import { expect } from 'chai';
import { KEY_INVALIDATION_CHANNEL } from '../../src/keys/index.js';
import type { TestApp } from '../support/app.js';
import { updateKeyRow } from '../keys/helpers.js';
import { agentKey, API_KEY_CLIENT, client, expectError, expectOAuthError, fixture, login, postForm, registerClient, TEST_ACTOR, type ExchangeFixture } from './support.js';

function refreshAt(app: TestApp, body: unknown) {
  return app.http().post('/auth/refresh').set('Content-Type', 'application/json').send(JSON.stringify(body));
}

function refreshAtTokenEndpoint(app: TestApp, refreshToken: string) {
  return postForm(app, '/oauth/token', { grant_type: 'refresh_token', client_id: API_KEY_CLIENT, refresh_token: refreshToken });
}

/** A refresh token works until its key, agent or session stops; bad requests get docs/reference.md §4 / RFC 6749 errors. */
describe('exchange: refresh refusals', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture(); });
  after(async () => { await fx.app.close(); });

  it('400 for malformed JSON, wrong types, unknown fields, a missing or oversized refresh_token', async () => {
    expectError(await fx.app.http().post('/auth/refresh').set('Content-Type', 'application/json').send('{"refresh_token":'), 400, 'invalid_request');
    for (const body of [{}, { refresh_token: 1 }, { refresh_token: ['a'] }, { refresh_token: null }, { refresh_token: '' }, { refresh_token: 'a', api_key: 'x' }, { refresh_token: 'x'.repeat(513) }, []]) {
      expectError(await refreshAt(fx.app, body), 400, 'invalid_request');
    }
  });

  it('401 invalid_token for unknown, garbage and unicode refresh tokens', async () => {
    for (const token of ['nope', 'x'.repeat(512), 'ünïcödé-токен', 'a.b.c', '../../etc/passwd']) {
      expectError(await refreshAt(fx.app, { refresh_token: token }), 401, 'invalid_token');
    }
  });

  it('refuses another client\'s refresh token at /auth/refresh (it is for keyport-api-key)', async () => {
    const gateway = await registerClient(fx.app, { name: 'gw', grantTypes: ['token_exchange', 'refresh_token'], scopes: ['read'] });
    const { apiKey } = await agentKey(fx.app);
    const config = await client.discovery(new URL(fx.app.config.issuer), gateway.id, undefined, client.ClientSecretBasic(gateway.secret!), { execute: [client.allowInsecureRequests] });
    const tokens = await client.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:token-exchange', { subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key' });
    expect(tokens.refresh_token).to.be.a('string');
    expectError(await refreshAt(fx.app, { refresh_token: tokens.refresh_token }), 401, 'invalid_token');
    // Its own client refreshes it at the token endpoint.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.scope).to.equal('read');
  });

  it('after the key is revoked: revoked_api_key at /auth/refresh, invalid_grant at the token endpoint', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const a = await login(fx.app, apiKey, { session_id: 'a' });
    const b = await login(fx.app, apiKey, { session_id: 'b' });
    await fx.app.services.keys.apiKeys.revoke(key.id, TEST_ACTOR);
    expectError(await refreshAt(fx.app, { refresh_token: a.body.refresh_token }), 401, 'revoked_api_key');
    expectOAuthError(await refreshAtTokenEndpoint(fx.app, b.body.refresh_token), 'invalid_grant', 400);
  });

  it('after the agent is revoked: refused at both doors', async () => {
    const { apiKey, agent } = await agentKey(fx.app);
    const a = await login(fx.app, apiKey, { session_id: 'a' });
    const b = await login(fx.app, apiKey, { session_id: 'b' });
    await fx.app.services.keys.agents.revoke(agent.id, TEST_ACTOR);
    expectError(await refreshAt(fx.app, { refresh_token: a.body.refresh_token }), 401, 'revoked_api_key');
    expectOAuthError(await refreshAtTokenEndpoint(fx.app, b.body.refresh_token), 'invalid_grant', 400);
  });

  it('after the key expired: expired_api_key at /auth/refresh, invalid_grant at the token endpoint', async () => {
    const { apiKey, key } = await agentKey(fx.app, { expiresIn: '30d' });
    const a = await login(fx.app, apiKey, { session_id: 'a' });
    const b = await login(fx.app, apiKey, { session_id: 'b' });
    await updateKeyRow(fx.app, key.id, { expiresAt: new Date(Date.now() - 1000) });
    await fx.app.services.bus.publish(KEY_INVALIDATION_CHANNEL, JSON.stringify({ keyIds: [key.id], reason: 'key_rotated' }));
    expectError(await refreshAt(fx.app, { refresh_token: a.body.refresh_token }), 401, 'expired_api_key');
    expectOAuthError(await refreshAtTokenEndpoint(fx.app, b.body.refresh_token), 'invalid_grant', 400);
  });

  it('after the rotation grace period: revoked_api_key; during it: refreshed', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const a = await login(fx.app, apiKey, { session_id: 'a' });
    const b = await login(fx.app, apiKey, { session_id: 'b' });
    const rotated = await fx.app.services.keys.apiKeys.rotate(key.id, { grace: '1h' }, TEST_ACTOR);
    const during = await refreshAt(fx.app, { refresh_token: a.body.refresh_token });
    expect(during.status, during.text).to.equal(200);
    // The grace period ends (moved through the data, as the clock would).
    await updateKeyRow(fx.app, key.id, { graceUntil: new Date(Date.now() - 1000) });
    await fx.app.services.bus.publish(KEY_INVALIDATION_CHANNEL, JSON.stringify({ keyIds: [key.id], reason: 'key_rotated' }));
    expectError(await refreshAt(fx.app, { refresh_token: during.body.refresh_token }), 401, 'revoked_api_key');
    expectOAuthError(await refreshAtTokenEndpoint(fx.app, b.body.refresh_token), 'invalid_grant', 400);
    // The successor works.
    expect((await login(fx.app, rotated.apiKey, { session_id: 'a' })).status).to.equal(200);
  });

  it('after the session ended: invalid_token at /auth/refresh, invalid_grant at the token endpoint', async () => {
    const { apiKey } = await agentKey(fx.app);
    const a = await login(fx.app, apiKey, { session_id: 'ending' });
    const refreshed = await refreshAt(fx.app, { refresh_token: a.body.refresh_token });
    await fx.app.http().delete('/auth/sessions/ending').set('X-API-Key', apiKey).expect(204);
    expectError(await refreshAt(fx.app, { refresh_token: refreshed.body.refresh_token }), 401, 'invalid_token');
    expectOAuthError(await refreshAtTokenEndpoint(fx.app, refreshed.body.refresh_token), 'invalid_grant', 400);
  });
});
