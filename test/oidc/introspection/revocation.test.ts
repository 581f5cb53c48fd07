import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { client, discover, expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: revocation (RFC 7009) of JWT and opaque access tokens', () => {
  let app: TestApp;
  let service: RegisteredClient;
  let other: RegisteredClient;
  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { name: 'service', grantTypes: ['client_credentials'], scopes: ['read'] });
    other = await registerClient(app, { name: 'other', grantTypes: ['client_credentials'], scopes: ['read'] });
    await app.services.oidc.resourceServers.create({ audience: 'https://opaque.example.com', format: 'opaque' });
  });
  after(async () => { await app.close(); });

  it('revokes a JWT: introspection answers active:false afterwards', async () => {
    const config = await discover(app, service);
    const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect((await client.tokenIntrospection(config, token)).active).to.equal(true);
    await client.tokenRevocation(config, token);
    expect(await client.tokenIntrospection(config, token)).to.deep.include({ active: false });
    expect(await app.services.oidc.accessTokens.verify(token)).to.equal(undefined);
  });

  it('revokes an opaque token', async () => {
    const config = await discover(app, service);
    const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read', resource: 'https://opaque.example.com' });
    expect((await client.tokenIntrospection(config, token)).active).to.equal(true);
    await client.tokenRevocation(config, token);
    expect((await client.tokenIntrospection(config, token)).active).to.equal(false);
  });

  it('makes another instance on the same database see a revocation at once', async () => {
    const second = await (await import('../../support/app.js')).startTestApp({ database: app.database, env: { ISSUER: app.config.issuer } });
    try {
      const config = await discover(app, service);
      const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read' });
      expect(await second.services.oidc.accessTokens.verify(token)).not.to.equal(undefined);
      await client.tokenRevocation(config, token);
      expect(await second.services.oidc.accessTokens.verify(token)).to.equal(undefined);
    } finally {
      await second.running.close();
    }
  });

  it('answers 200 for unknown, malformed and expired-looking tokens (RFC 7009 §2.2)', async () => {
    for (const token of ['unknown-token-value', 'a.b.c', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA']) {
      const res = await postForm(app, '/oauth/revoke', { token }, service);
      expect(res.status, res.text).to.equal(200);
    }
  });

  it('refuses to let another confidential client revoke a token', async () => {
    const { access_token: token } = await client.clientCredentialsGrant(await discover(app, service), { scope: 'read' });
    const res = await postForm(app, '/oauth/revoke', { token }, other);
    expectOAuthError(res, 'invalid_request', 400);
    expect((await app.services.oidc.accessTokens.verify(token))).not.to.equal(undefined);
  });

  it('authenticates the caller', async () => {
    expectOAuthError(await postForm(app, '/oauth/revoke', { token: 'x' }, { id: service.id, secret: 'nope' }), 'invalid_client', 401);
    expectOAuthError(await postForm(app, '/oauth/revoke', { token: 'x' }), 'invalid_request', 400);
    expectOAuthError(await postForm(app, '/oauth/revoke', {}, service), 'invalid_request', 400);
  });

  it('stops tokens of a deleted client at once', async () => {
    const doomed = await registerClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] });
    const config = await discover(app, doomed);
    const jwt = (await client.clientCredentialsGrant(config, { scope: 'read' })).access_token;
    const opaque = (await client.clientCredentialsGrant(config, { scope: 'read', resource: 'https://opaque.example.com' })).access_token;
    await app.services.oidc.clients.delete(doomed.id);
    for (const token of [jwt, opaque]) {
      const res = await postForm(app, '/oauth/introspect', { token }, service).expect(200);
      expect(res.body).to.deep.equal({ active: false });
    }
  });
});
