import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  ACCESS_TOKEN_TYPE, agentKey, API_KEY_CLIENT, claimsOf, client, exchangeKey, fixture, introspect, login, registerClient, TOKEN_EXCHANGE, type ExchangeFixture,
} from './support.js';

/** RFC 8693 at the token endpoint, driven by openid-client as a real client would. */
describe('exchange: RFC 8693 token exchange at /oauth/token', () => {
  let fx: ExchangeFixture;
  before(async () => {
    fx = await fixture();
    await fx.app.services.oidc.resourceServers.create({ audience: 'https://orders.example.com', format: 'opaque', scopes: ['read'], accessTokenTtl: 600 });
    await fx.app.services.oidc.resourceServers.create({ audience: 'https://billing.example.com', format: 'jwt' });
  });
  after(async () => { await fx.app.close(); });

  it('is advertised in discovery and configured from it', async () => {
    const config = await client.discovery(new URL(fx.app.config.issuer), API_KEY_CLIENT, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    expect(config.serverMetadata().grant_types_supported).to.include(TOKEN_EXCHANGE);
  });

  it('exchanges an API key as the public client keyport-api-key (no secret: the key is the credential)', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app);
    const tokens = await exchangeKey(fx.app, apiKey, { session_id: 'rfc8693' });
    expect(tokens).to.include({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'bearer', scope: 'read write', session_id: 'rfc8693' });
    expect(tokens.expires_in).to.be.within(7190, 7200);
    expect(tokens.refresh_token).to.be.a('string');

    const jwks = createRemoteJWKSet(new URL('/oauth/jwks', fx.app.config.issuer));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: fx.app.config.issuer, audience: fx.app.config.issuer, typ: 'at+jwt' });
    expect(payload).to.include({ sub: agent.id, client_id: API_KEY_CLIENT, api_key_id: key.id, session_id: 'rfc8693', env: 'live', access_type: 'integrations' });
  });

  it('shares sessions with /auth/login: one service, two doors, the same token', async () => {
    const { apiKey } = await agentKey(fx.app);
    const viaLogin = await login(fx.app, apiKey, { session_id: 'shared' });
    const viaGrant = await exchangeKey(fx.app, apiKey, { session_id: 'shared' });
    expect(viaGrant.access_token).to.equal(viaLogin.body.access_token);
    const viaGrantAgain = await exchangeKey(fx.app, apiKey);
    expect(viaGrantAgain.session_id).to.equal('default');
    expect(viaGrantAgain.access_token).not.to.equal(viaLogin.body.access_token);
  });

  it('narrows scope, and issues for another audience: opaque with that audience\'s scopes and TTL', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const narrow = await exchangeKey(fx.app, apiKey, { scope: 'write' });
    expect(narrow.scope).to.equal('write');

    const opaque = await exchangeKey(fx.app, apiKey, { resource: 'https://orders.example.com' });
    expect(opaque.access_token.split('.')).to.have.length(1);
    expect(opaque.scope).to.equal('read');
    expect(opaque.expires_in).to.be.within(590, 600);
    expect(await introspect(fx, opaque.access_token)).to.include({
      active: true, aud: 'https://orders.example.com', scope: 'read', api_key_id: key.id, session_id: 'default', env: 'live', access_type: 'integrations',
    });

    const viaAudience = await exchangeKey(fx.app, apiKey, { audience: 'https://billing.example.com', session_id: 'billing' });
    expect(claimsOf(viaAudience.access_token)).to.include({ aud: 'https://billing.example.com', scope: 'read write' });
  });

  it('lets a confidential client with the grant exchange a key; its own scopes bound the token', async () => {
    const registered = await registerClient(fx.app, { name: 'gateway', grantTypes: ['token_exchange'], scopes: ['read'] });
    const { apiKey, agent } = await agentKey(fx.app);
    const tokens = await exchangeKey(fx.app, apiKey, { session_id: 'gw' }, registered.id, client.ClientSecretBasic(registered.secret!));
    expect(tokens.scope).to.equal('read');
    expect(tokens.refresh_token, 'no refresh_token grant, no refresh token').to.equal(undefined);
    expect(claimsOf(tokens.access_token)).to.include({ client_id: registered.id, sub: agent.id, session_id: 'gw' });
    expect(await introspect(fx, tokens.access_token)).to.include({ active: true, client_id: registered.id, agent_id: agent.id });
    // Client-secret-post works too.
    const config = await client.discovery(new URL(fx.app.config.issuer), registered.id, undefined, client.ClientSecretPost(registered.secret!), { execute: [client.allowInsecureRequests] });
    const again = await client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key', session_id: 'gw' });
    expect(again.access_token).to.equal(tokens.access_token);
  });

  it('exchanges an access token for a narrower one with the same sub, key and session claims and no longer life', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app, { scopes: ['read', 'write', 'delete'] });
    const subject = await login(fx.app, apiKey, { session_id: 'parent' });
    const config = await client.discovery(new URL(fx.app.config.issuer), API_KEY_CLIENT, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const narrower = await client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: subject.body.access_token, subject_token_type: ACCESS_TOKEN_TYPE, scope: 'read' });
    expect(narrower).to.include({ issued_token_type: ACCESS_TOKEN_TYPE, scope: 'read', session_id: 'parent' });
    expect(narrower.refresh_token).to.equal(undefined);
    expect(narrower.expires_in).to.be.at.most(subject.body.expires_in);
    const parentClaims = claimsOf(subject.body.access_token);
    const claims = claimsOf(narrower.access_token);
    expect(claims).to.include({ sub: agent.id, api_key_id: key.id, agent_id: agent.id, session_id: 'parent', sid: parentClaims.sid, env: 'live', access_type: 'integrations', scope: 'read' });
    expect(claims.jti).not.to.equal(parentClaims.jti);
    expect(claims.exp).to.be.at.most(parentClaims.exp as number);

    // Without a scope it keeps the subject's. Another audience is for a confidential client to ask
    // (a public client may only narrow within the subject's audience): it takes that audience's bounds.
    const same = await client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: narrower.access_token, subject_token_type: ACCESS_TOKEN_TYPE });
    expect(same.scope).to.equal('read');
    const gateway = await registerClient(fx.app, { name: 'gateway', grantTypes: ['token_exchange'], scopes: ['read', 'write'] });
    const gatewayConfig = await client.discovery(new URL(fx.app.config.issuer), gateway.id, undefined, client.ClientSecretBasic(gateway.secret!), { execute: [client.allowInsecureRequests] });
    const elsewhere = await client.genericGrantRequest(gatewayConfig, TOKEN_EXCHANGE, { subject_token: subject.body.access_token, subject_token_type: ACCESS_TOKEN_TYPE, resource: 'https://orders.example.com' });
    expect(elsewhere.scope).to.equal('read');
    expect(await introspect(fx, elsewhere.access_token)).to.include({ active: true, aud: 'https://orders.example.com', session_id: 'parent', client_id: gateway.id });
  });

  it('exchanges a client-credentials token of the same client for a narrower one', async () => {
    const registered = await registerClient(fx.app, { name: 'svc', grantTypes: ['client_credentials', 'token_exchange'], scopes: ['read', 'write'] });
    const config = await client.discovery(new URL(fx.app.config.issuer), registered.id, undefined, client.ClientSecretBasic(registered.secret!), { execute: [client.allowInsecureRequests] });
    const cc = await client.clientCredentialsGrant(config, { scope: 'read write' });
    const narrower = await client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: cc.access_token, subject_token_type: ACCESS_TOKEN_TYPE, scope: 'read' });
    expect(claimsOf(narrower.access_token)).to.include({ sub: registered.id, client_id: registered.id, scope: 'read' });
  });

  it('counts tokens issued by the grant in /metrics', async () => {
    const { apiKey } = await agentKey(fx.app);
    const text = async () => (await fx.app.http().get('/metrics')).text;
    const count = (body: string) => Number(body.split('\n').find((line) => line.startsWith(`keyport_tokens_issued_total{grant="${TOKEN_EXCHANGE}",kind="access_token"}`))?.split(' ').pop() ?? 0);
    const before = count(await text());
    await exchangeKey(fx.app, apiKey, { session_id: 'metrics' });
    await exchangeKey(fx.app, apiKey, { session_id: 'metrics' });
    expect(count(await text())).to.equal(before + 1);
  });
});
