import { expect } from 'chai';
import { agentKey, client, expectError, fixture, login, registerClient, type ExchangeFixture } from './support.js';

/** GET /auth/test with a bearer access token instead of an API key (docs/reference.md §3). */
describe('exchange: GET /auth/test with a bearer token', () => {
  let fx: ExchangeFixture;
  before(async () => {
    fx = await fixture();
    await fx.app.services.oidc.resourceServers.create({ audience: 'https://opaque.example.com', format: 'opaque' });
  });
  after(async () => { await fx.app.close(); });

  const check = (token: string) => fx.app.http().get('/auth/test').set('Authorization', `Bearer ${token}`);

  it('describes the key, agent and the token\'s own (narrower) scopes for a token from /auth/login', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app, { env: 'test' });
    const { body } = await login(fx.app, apiKey, { session_id: 'probe', scope: 'read' });
    const res = await check(body.access_token);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.authenticated).to.equal(true);
    expect(res.body.agent).to.include({ id: agent.id, status: 'active' });
    expect(res.body.key).to.include({ id: key.id, prefix: key.prefix, env: 'test', access_type: 'integrations' });
    expect(res.body.scopes).to.deep.equal(['read']);
    expect(res.body.rate_limit).to.have.keys('limit', 'remaining', 'reset');
    expect(res.body.token).to.include({ client_id: 'keyport-api-key', sub: agent.id, session_id: 'probe' });
    // POST answers the same.
    const viaPost = await fx.app.http().post('/auth/test').set('Authorization', `Bearer ${body.access_token}`).send({});
    expect(viaPost.body.key.id).to.equal(key.id);
  });

  it('accepts any Keyport access token: a client-credentials JWT and an opaque token', async () => {
    const service = await registerClient(fx.app, { name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    const config = await client.discovery(new URL(fx.app.config.issuer), service.id, undefined, client.ClientSecretBasic(service.secret!), { execute: [client.allowInsecureRequests] });
    for (const parameters of [{ scope: 'read' }, { scope: 'read', resource: 'https://opaque.example.com' }] as Array<Record<string, string>>) {
      const { access_token: token } = await client.clientCredentialsGrant(config, parameters);
      const res = await check(token);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.include({ authenticated: true, agent: null, key: null, scopes: ['read'], rate_limit: null });
      expect(res.body.token).to.include({ client_id: service.id, sub: service.id, session_id: null });
    }
  });

  it('still prefers an API key, and refuses a key beside a different bearer token', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const { body } = await login(fx.app, apiKey);
    expectError(await fx.app.http().get('/auth/test').set('Authorization', `Bearer ${body.access_token}`).set('X-API-Key', apiKey), 400, 'invalid_request');
    const viaKey = await fx.app.http().get('/auth/test').set('X-API-Key', apiKey);
    expect(viaKey.body.key.id).to.equal(key.id);
    expect(viaKey.body).not.to.have.property('token');
  });
});
