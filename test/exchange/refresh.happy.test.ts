import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { agentKey, API_KEY_CLIENT, claimsOf, client, fixture, introspect, login, type ExchangeFixture } from './support.js';

function refreshAt(app: TestApp, refreshToken: unknown) {
  return app.http().post('/auth/refresh').send({ refresh_token: refreshToken });
}

async function publicClient(app: TestApp): Promise<client.Configuration> {
  return client.discovery(new URL(app.config.issuer), API_KEY_CLIENT, undefined, client.None(), { execute: [client.allowInsecureRequests] });
}

/** Refresh tokens of API-key sessions: the engine's own refresh grant, at two doors. */
describe('exchange: refresh at /auth/refresh and at the token endpoint', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture({ env: { TOKEN_TTL: '900' } }); });
  after(async () => { await fx.app.close(); });

  it('refreshes at /auth/refresh with the /auth/login shape, rotating the refresh token every time', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'rotating', scope: 'read' });
    const second = await refreshAt(fx.app, first.body.refresh_token);
    expect(second.status, second.text).to.equal(200);
    expect(Object.keys(second.body).sort()).to.deep.equal(['access_token', 'expires_in', 'refresh_token', 'scope', 'session_id', 'token_type']);
    expect(second.body).to.include({ token_type: 'Bearer', scope: 'read', session_id: 'rotating' });
    expect(second.body.expires_in).to.be.within(890, 900);
    expect(second.body.refresh_token).not.to.equal(first.body.refresh_token);
    expect(second.body.access_token).not.to.equal(first.body.access_token);
    expect(claimsOf(second.body.access_token)).to.include({
      sub: agent.id, client_id: API_KEY_CLIENT, api_key_id: key.id, agent_id: agent.id, session_id: 'rotating', sid: claimsOf(first.body.access_token).sid, env: 'live', access_type: 'integrations',
    });
    expect(await introspect(fx, second.body.access_token)).to.include({ active: true, session_id: 'rotating', api_key_id: key.id });

    const third = await refreshAt(fx.app, second.body.refresh_token);
    expect(third.status, third.text).to.equal(200);
    expect(third.body.refresh_token).not.to.equal(second.body.refresh_token);
  });

  it('refreshes at the token endpoint with openid-client (grant_type=refresh_token&client_id=keyport-api-key)', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'oidc-client' });
    const config = await publicClient(fx.app);
    const refreshed = await client.refreshTokenGrant(config, first.body.refresh_token);
    expect(refreshed.refresh_token).to.be.a('string').and.not.equal(first.body.refresh_token);
    expect(refreshed.scope).to.equal('read write');
    expect(refreshed.expires_in).to.be.within(890, 900);
    expect(claimsOf(refreshed.access_token)).to.include({ api_key_id: key.id, session_id: 'oidc-client' });
    const again = await client.refreshTokenGrant(config, refreshed.refresh_token!, { scope: 'read' });
    expect(again.scope).to.equal('read');
  });

  it('detects reuse: a used refresh token is refused and kills its family', async () => {
    const { apiKey } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'reuse' });
    const second = await refreshAt(fx.app, first.body.refresh_token);
    expect(second.status).to.equal(200);
    const replay = await refreshAt(fx.app, first.body.refresh_token);
    expect(replay.status).to.equal(401);
    expect(replay.body.error.code).to.equal('invalid_token');
    // The whole family went: the rotated refresh token and the tokens it minted.
    expect((await refreshAt(fx.app, second.body.refresh_token)).status).to.equal(401);
    expect((await introspect(fx, second.body.access_token)).active).to.equal(false);
    expect((await introspect(fx, first.body.access_token)).active).to.equal(false);
    // The session itself can start a new family by logging in again.
    const fresh = await login(fx.app, apiKey, { session_id: 'reuse' });
    expect(fresh.status).to.equal(200);
    expect(fresh.body.access_token).not.to.equal(first.body.access_token);
    expect((await introspect(fx, fresh.body.access_token)).active).to.equal(true);
  });

  it('hands out a new refresh token on a repeat login once the previous one was used; both stay usable', async () => {
    const { apiKey } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'repeat' });
    const refreshed = await refreshAt(fx.app, first.body.refresh_token);
    const repeat = await login(fx.app, apiKey, { session_id: 'repeat' });
    expect(repeat.body.access_token).to.equal(first.body.access_token);
    expect(repeat.body.refresh_token).not.to.equal(first.body.refresh_token);
    expect(repeat.body.refresh_token).not.to.equal(refreshed.body.refresh_token);
    expect((await refreshAt(fx.app, repeat.body.refresh_token)).status).to.equal(200);
    expect((await refreshAt(fx.app, refreshed.body.refresh_token)).status).to.equal(200);
    // And the same one again while it is unused.
    const another = await login(fx.app, apiKey, { session_id: 'rerepeat' });
    expect((await login(fx.app, apiKey, { session_id: 'rerepeat' })).body.refresh_token).to.equal(another.body.refresh_token);
  });

  it('refreshes tokens of an RFC 8693 exchange the same way', async () => {
    const { apiKey } = await agentKey(fx.app);
    const config = await publicClient(fx.app);
    const exchanged = await client.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:token-exchange', {
      subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key', session_id: 'x',
    });
    const refreshed = await refreshAt(fx.app, exchanged.refresh_token);
    expect(refreshed.status, refreshed.text).to.equal(200);
    expect(refreshed.body.session_id).to.equal('x');
  });
});
