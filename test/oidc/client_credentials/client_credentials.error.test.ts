import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: token endpoint errors', () => {
  let app: TestApp;
  let service: RegisteredClient;
  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] });
  });
  after(async () => { await app.close(); });

  it('refuses a wrong secret with invalid_client (401)', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'client_credentials' }, { id: service.id, secret: 'not-the-secret' });
    expectOAuthError(res, 'invalid_client', 401);
  });

  it('refuses an unknown client with invalid_client', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'client_credentials' }, { id: 'cli_doesnotexist', secret: 'x' });
    expectOAuthError(res, 'invalid_client', 401);
  });

  it('refuses a request without client authentication', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'client_credentials' });
    expectOAuthError(res, 'invalid_request', 400);
  });

  it('refuses a grant the client is not registered for', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: 'x' }, service);
    // oidc-provider's choice of code for this case.
    expectOAuthError(res, 'invalid_request', 400);
    expect(res.body.error_description).to.equal('requested grant type is not allowed for this client');
  });

  it('refuses an unknown grant type', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'password', username: 'a', password: 'b' }, service);
    expectOAuthError(res, 'unsupported_grant_type', 400);
  });

  it('refuses an unknown resource with invalid_target', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', resource: 'https://unknown.example.com' }, service);
    expectOAuthError(res, 'invalid_target', 400);
  });

  it('refuses a resource that is not an absolute URI', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', resource: 'not a uri' }, service);
    expectOAuthError(res, 'invalid_target', 400);
  });

  it('answers garbage bodies with RFC 6749 errors, never 500', async () => {
    const cases = [
      app.http().post('/oauth/token').type('json').send('{"grant_type":'),
      app.http().post('/oauth/token').type('form').send('%%%%&&&=='),
      app.http().post('/oauth/token').set('Content-Type', 'text/plain').send('grant_type=client_credentials'),
      app.http().post('/oauth/token').type('form').send({ grant_type: ['client_credentials', 'client_credentials'] }),
      app.http().post('/oauth/token').type('form').send({ grant_type: 'client_credentials', scope: 'x'.repeat(70_000) }),
      app.http().post('/oauth/token').set('Authorization', 'Basic !!!notbase64').type('form').send({ grant_type: 'client_credentials' }),
      app.http().post('/oauth/token').set('Authorization', 'Bearer abc').type('form').send({ grant_type: 'client_credentials' }),
    ];
    for (const request of cases) {
      const res = await request;
      expect(res.status, res.text).to.be.within(400, 499);
      expect(res.body).to.have.property('error').that.is.a('string');
      expect(res.text).not.to.match(/at .*\.js:\d+|node_modules/);
    }
  });

  it('answers GET on the token endpoint without a 500', async () => {
    const res = await app.http().get('/oauth/token');
    expect(res.status).to.be.within(400, 499);
  });
});

describe('oidc: token endpoint while the database is down', () => {
  it('answers 503 temporarily_unavailable with Retry-After, not a 500', async () => {
    const app = await startOidcApp();
    try {
      const service = await registerClient(app, { grantTypes: ['client_credentials'] });
      await app.http().get('/oauth/jwks').expect(200);
      await app.services.database.dataSource.destroy();
      const res = await postForm(app, '/oauth/token', { grant_type: 'client_credentials' }, service);
      expectOAuthError(res, 'temporarily_unavailable', 503);
      expect(res.headers['retry-after']).to.equal('5');
      expect(res.text).not.to.match(/SQLITE|ECONNREFUSED|Pool|DataSource/i);
    } finally {
      await app.close();
    }
  });
});
