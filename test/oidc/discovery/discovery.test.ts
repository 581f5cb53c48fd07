import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { client, registerClient, startOidcApp } from '../support.js';

describe('oidc: discovery', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    it(`serves the metadata at ${path} with every endpoint under /oauth/`, async () => {
      const res = await app.http().get(path).expect(200);
      expect(res.headers['content-type']).to.match(/^application\/json/);
      expect(res.headers['x-request-id']).to.match(/^req_/);
      const issuer = app.config.issuer;
      expect(res.body.issuer).to.equal(issuer);
      for (const [field, route] of Object.entries({
        authorization_endpoint: '/oauth/authorize', token_endpoint: '/oauth/token', introspection_endpoint: '/oauth/introspect',
        revocation_endpoint: '/oauth/revoke', jwks_uri: '/oauth/jwks', userinfo_endpoint: '/oauth/userinfo', end_session_endpoint: '/oauth/logout',
      })) {
        expect(res.body[field], field).to.equal(`${issuer}${route}`);
      }
      expect(res.body.grant_types_supported).to.include.members(['authorization_code', 'client_credentials', 'refresh_token']);
      expect(res.body.token_endpoint_auth_methods_supported).to.have.members(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
      expect(res.body.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(res.body.id_token_signing_alg_values_supported).to.deep.equal(['ES256']);
      // No algorithm that needs the plaintext client secret.
      expect(JSON.stringify(res.body)).not.to.match(/"HS\d{3}"|client_secret_jwt/);
    });
  }

  it('serves the same metadata at both well-known URLs', async () => {
    const oidc = await app.http().get('/.well-known/openid-configuration');
    const oauth = await app.http().get('/.well-known/oauth-authorization-server');
    expect(oauth.body).to.deep.equal(oidc.body);
  });

  it('lets openid-client configure itself from either document', async () => {
    const registered = await registerClient(app, { grantTypes: ['client_credentials'] });
    for (const algorithm of ['oidc', 'oauth2'] as const) {
      const config = await client.discovery(new URL(app.config.issuer), registered.id, registered.secret, undefined, { algorithm, execute: [client.allowInsecureRequests] });
      expect(config.serverMetadata().token_endpoint).to.equal(`${app.config.issuer}/oauth/token`);
    }
  });

  it('publishes an ES256 key and no private material at /oauth/jwks', async () => {
    const res = await app.http().get('/oauth/jwks').expect(200);
    expect(res.body.keys).to.have.length(1);
    const [key] = res.body.keys;
    expect(key).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(key.kid).to.be.a('string');
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.to.have.property(secret);
  });

  it('does not serve the development interactions or the default /auth route', async () => {
    await app.http().get('/auth').expect(404);
    const res = await app.http().get('/oauth/authorize/anything');
    expect(res.status).to.be.within(400, 499);
  });

  it('answers unknown /oauth/ paths with 404', async () => {
    const res = await app.http().get('/oauth/nope');
    expect(res.status).to.equal(404);
  });
});
