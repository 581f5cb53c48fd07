import { expect } from 'chai';
import { updateKeyRow } from '../keys/helpers.js';
import {
  ACCESS_TOKEN_TYPE, agentKey, API_KEY_TYPE, client, exchangeForm, expectOAuthError, fixture, login, postForm, registerClient, TOKEN_EXCHANGE, type ExchangeFixture,
} from './support.js';

/** RFC 6749 §5.2 errors, never a 500, whatever the token-exchange request gets wrong. */
describe('exchange: RFC 8693 failures at /oauth/token', () => {
  let fx: ExchangeFixture;
  let apiKey: string;
  before(async () => {
    fx = await fixture({ env: { TRUST_PROXY: 'true' } });
    ({ apiKey } = await agentKey(fx.app));
  });
  after(async () => { await fx.app.close(); });

  const exchange = (body: Record<string, string>) => exchangeForm(fx.app, { subject_token: apiKey, subject_token_type: API_KEY_TYPE, ...body });

  it('invalid_grant for an unknown, malformed, expired, revoked or fenced key, and for a huge subject token', async () => {
    expectOAuthError(await exchange({ subject_token: `ak_live_${'Z'.repeat(32)}` }), 'invalid_grant', 400);
    expectOAuthError(await exchange({ subject_token: 'not-a-key' }), 'invalid_grant', 400);
    expectOAuthError(await exchange({ subject_token: 'ak_'.repeat(5000) }), 'invalid_grant', 400);

    const expired = await agentKey(fx.app, { expiresIn: '1h' });
    await updateKeyRow(fx.app, expired.key.id, { expiresAt: new Date(Date.now() - 1000) });
    fx.app.services.keys.verifier.clearCache();
    const expiredRes = await exchange({ subject_token: expired.apiKey });
    expectOAuthError(expiredRes, 'invalid_grant', 400);
    expect(expiredRes.body.error_description).to.include('expired');

    const revoked = await agentKey(fx.app);
    await fx.app.services.keys.apiKeys.revoke(revoked.key.id, { actor: 'test' });
    expectOAuthError(await exchange({ subject_token: revoked.apiKey }), 'invalid_grant', 400);

    const fenced = await agentKey(fx.app, { ipAllowList: ['10.0.0.0/8'] });
    expectOAuthError(await exchange({ subject_token: fenced.apiKey }).set('X-Forwarded-For', '192.0.2.9'), 'invalid_grant', 400);
    const inside = await exchange({ subject_token: fenced.apiKey }).set('X-Forwarded-For', '10.9.9.9');
    expect(inside.status, inside.text).to.equal(200);
  });

  it('invalid_scope for more than the key holds, for OIDC scopes, and for admin on a non-admin key', async () => {
    expectOAuthError(await exchange({ scope: 'read delete' }), 'invalid_scope', 400);
    expectOAuthError(await exchange({ scope: 'admin' }), 'invalid_scope', 400);
    expectOAuthError(await exchange({ scope: 'openid' }), 'invalid_scope', 400);
    expectOAuthError(await exchange({ scope: 'read "x"' }), 'invalid_scope', 400);
  });

  it('invalid_target for an unknown audience or two different ones', async () => {
    expectOAuthError(await exchange({ resource: 'https://unknown.example.com' }), 'invalid_target', 400);
    expectOAuthError(await exchange({ audience: 'https://unknown.example.com' }), 'invalid_target', 400);
    await fx.app.services.oidc.resourceServers.create({ audience: 'https://a.example.com', format: 'jwt' });
    expectOAuthError(await exchange({ resource: 'https://a.example.com', audience: fx.app.config.issuer }), 'invalid_target', 400);
    const same = await exchange({ resource: 'https://a.example.com', audience: 'https://a.example.com' });
    expect(same.status, same.text).to.equal(200);
  });

  it('invalid_request for missing or unsupported parameters', async () => {
    expectOAuthError(await exchangeForm(fx.app, { subject_token_type: API_KEY_TYPE }), 'invalid_request', 400);
    expectOAuthError(await exchangeForm(fx.app, { subject_token: apiKey }), 'invalid_request', 400);
    expectOAuthError(await exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 'invalid_request', 400);
    expectOAuthError(await exchange({ actor_token: apiKey, actor_token_type: API_KEY_TYPE }), 'invalid_request', 400);
    expectOAuthError(await exchange({ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 'invalid_request', 400);
    const accepted = await exchange({ requested_token_type: ACCESS_TOKEN_TYPE, session_id: 'typed' });
    expect(accepted.status, accepted.text).to.equal(200);
  });

  it('invalid_request for a bad session_id, a repeated parameter, or a session_id with an access-token subject', async () => {
    for (const sessionId of ['a'.repeat(129), 'with space', 'ctl\u0001', 'zw\u200b']) {
      expectOAuthError(await exchange({ session_id: sessionId }), 'invalid_request', 400);
    }
    expectOAuthError(await fx.app.http().post('/oauth/token').type('form')
      .send(`grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}&client_id=keyport-api-key&subject_token=${apiKey}&subject_token=${apiKey}&subject_token_type=${encodeURIComponent(API_KEY_TYPE)}`), 'invalid_request', 400);
    const { body } = await login(fx.app, apiKey);
    expectOAuthError(await exchangeForm(fx.app, { subject_token: body.access_token, subject_token_type: ACCESS_TOKEN_TYPE, session_id: 'x' }), 'invalid_request', 400);
  });

  it('invalid_grant for an access-token subject that is invalid, revoked, or another client\'s client-credentials token', async () => {
    expectOAuthError(await exchangeForm(fx.app, { subject_token: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln', subject_token_type: ACCESS_TOKEN_TYPE }), 'invalid_grant', 400);
    expectOAuthError(await exchangeForm(fx.app, { subject_token: 'x'.repeat(9000), subject_token_type: ACCESS_TOKEN_TYPE }), 'invalid_grant', 400);
    const { body } = await login(fx.app, apiKey, { session_id: 'to-revoke' });
    await postForm(fx.app, '/oauth/revoke', { token: body.access_token, client_id: 'keyport-api-key' }).expect(200);
    expectOAuthError(await exchangeForm(fx.app, { subject_token: body.access_token, subject_token_type: ACCESS_TOKEN_TYPE }), 'invalid_grant', 400);

    const owner = await registerClient(fx.app, { name: 'owner', grantTypes: ['client_credentials'], scopes: ['read'] });
    const config = await client.discovery(new URL(fx.app.config.issuer), owner.id, undefined, client.ClientSecretBasic(owner.secret!), { execute: [client.allowInsecureRequests] });
    const cc = await client.clientCredentialsGrant(config, { scope: 'read' });
    expectOAuthError(await exchangeForm(fx.app, { subject_token: cc.access_token, subject_token_type: ACCESS_TOKEN_TYPE }), 'invalid_grant', 400);
  });

  it('invalid_scope when exchanging an access token for a wider one', async () => {
    const { body } = await login(fx.app, apiKey, { session_id: 'narrow', scope: 'read' });
    expectOAuthError(await exchangeForm(fx.app, { subject_token: body.access_token, subject_token_type: ACCESS_TOKEN_TYPE, scope: 'read write' }), 'invalid_scope', 400);
  });

  it('refuses clients without the grant, and confidential clients that fail to authenticate', async () => {
    const noGrant = await registerClient(fx.app, { name: 'cc only', grantTypes: ['client_credentials'], scopes: ['read'] });
    const refused = await exchangeForm(fx.app, { subject_token: apiKey, subject_token_type: API_KEY_TYPE }, noGrant);
    expect(refused.status, refused.text).to.equal(400);
    expect(refused.body.error).to.be.oneOf(['unauthorized_client', 'invalid_request']);
    const withGrant = await registerClient(fx.app, { name: 'gateway', grantTypes: ['token_exchange'], scopes: ['read'] });
    expectOAuthError(await exchangeForm(fx.app, { subject_token: apiKey, subject_token_type: API_KEY_TYPE }, { id: withGrant.id, secret: 'wrong' }), 'invalid_client', 401);
    expectOAuthError(await postForm(fx.app, '/oauth/token', { grant_type: TOKEN_EXCHANGE, client_id: withGrant.id, subject_token: apiKey, subject_token_type: API_KEY_TYPE }), 'invalid_client', 401);
    expectOAuthError(await postForm(fx.app, '/oauth/token', { grant_type: TOKEN_EXCHANGE, subject_token: apiKey, subject_token_type: API_KEY_TYPE }), 'invalid_request', 400);
  });

  it('answers malformed bodies with RFC 6749 errors', async () => {
    const json = await fx.app.http().post('/oauth/token').set('Content-Type', 'application/json').send(JSON.stringify({ grant_type: TOKEN_EXCHANGE }));
    expectOAuthError(json, 'invalid_request', 400);
    const garbage = await fx.app.http().post('/oauth/token').type('form').send('%%%&&&===');
    expect(garbage.status).to.be.within(400, 499);
  });
});
