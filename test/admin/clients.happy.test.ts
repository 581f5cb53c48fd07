import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { runKeyportInProcess } from '../support/cli.js';
import { REDIRECT_URI, startOidcApp } from '../oidc/support.js';
import { adminCaller, callerWith, clientCredentialsToken, expectError, normalized, type AdminSession } from './support.js';

const VIEW_FIELDS = ['client_id', 'client_name', 'grant_types', 'redirect_uris', 'post_logout_redirect_uris', 'scope', 'token_endpoint_auth_method', 'public', 'created_at'];

describe('admin API: /admin/clients', () => {
  let app: TestApp;
  let admin: AdminSession;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
  });
  after(async () => { await app.close(); });

  it('POST registers a confidential client: 201 with the secret once, and the secret works at /oauth/token', async () => {
    const res = await admin.post('/admin/clients', { name: 'billing', grant_types: ['client_credentials'], scopes: ['read', 'write'] }).expect(201);
    expect(res.headers.location).to.equal(`/admin/clients/${res.body.client_id}`);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body).to.have.all.keys(...VIEW_FIELDS, 'client_secret');
    expect(res.body).to.deep.include({ client_name: 'billing', grant_types: ['client_credentials'], scope: 'read write', token_endpoint_auth_method: 'client_secret_basic', public: false });
    expect(res.body.client_id).to.match(/^cli_/);
    expect(res.body.client_secret).to.be.a('string').with.length.above(30);

    const token = await clientCredentialsToken(app, { id: res.body.client_id, secret: res.body.client_secret }, 'read write');
    expect(token).to.be.a('string');

    const shown = await admin.get(`/admin/clients/${res.body.client_id}`).expect(200);
    expect(shown.body).to.have.all.keys('client');
    expect(shown.body.client).to.have.all.keys(...VIEW_FIELDS);
    expect(JSON.stringify(shown.body)).not.to.include(res.body.client_secret);
  });

  it('POST registers a public code-flow client without a secret, and one with the grants given by their OAuth names', async () => {
    const spa = await admin.post('/admin/clients', {
      name: 'SPA', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], post_logout_redirect_uris: ['https://client.example.com/bye'], public: true,
    }).expect(201);
    expect(spa.body).not.to.have.property('client_secret');
    expect(spa.body).to.deep.include({ public: true, token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT_URI], post_logout_redirect_uris: ['https://client.example.com/bye'], scope: 'openid email read offline_access' });

    const exchange = await admin.post('/admin/clients', { name: 'gateway', grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'], scopes: 'read write' }).expect(201);
    expect(exchange.body).to.deep.include({ grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'], scope: 'read write' });
  });

  it('GET lists clients without secrets', async () => {
    const created = (await admin.post('/admin/clients', { name: 'listed', grant_types: ['client_credentials'] }).expect(201)).body;
    const res = await admin.get('/admin/clients').expect(200);
    expect(res.body).to.have.all.keys('clients');
    expect(res.body.clients.map((client: { client_id: string }) => client.client_id)).to.include.members([created.client_id, admin.client.id]);
    for (const client of res.body.clients) expect(client).to.have.all.keys(...VIEW_FIELDS);
    expect(JSON.stringify(res.body)).not.to.include(created.client_secret);
  });

  it('POST /:id/rotate replaces the secret: the new one works at /oauth/token, the old one no longer does, tokens already issued stay valid', async () => {
    const created = (await admin.post('/admin/clients', { name: 'rotating', grant_types: ['client_credentials'], scopes: ['admin'] }).expect(201)).body;
    const before = await clientCredentialsToken(app, { id: created.client_id, secret: created.client_secret });

    const res = await admin.post(`/admin/clients/${created.client_id}/rotate`).expect(200);
    expect(res.body).to.have.all.keys(...VIEW_FIELDS, 'client_secret');
    expect(res.body.client_id).to.equal(created.client_id);
    expect(res.body.client_secret).to.be.a('string').and.not.equal(created.client_secret);

    const old = await app.http().post('/oauth/token').type('form').auth(created.client_id, created.client_secret).send({ grant_type: 'client_credentials', scope: 'admin' });
    expect(old.status).to.equal(401);
    expect(old.body.error).to.equal('invalid_client');
    await clientCredentialsToken(app, { id: created.client_id, secret: res.body.client_secret });
    await callerWith(app, before).get('/admin/clients').expect(200);
  });

  it('DELETE /:id and POST /:id/revoke delete the client: its secret and its tokens stop working', async () => {
    for (const remove of [(id: string) => admin.delete(`/admin/clients/${id}`), (id: string) => admin.post(`/admin/clients/${id}/revoke`)]) {
      const created = (await admin.post('/admin/clients', { name: 'doomed', grant_types: ['client_credentials'], scopes: ['admin'] }).expect(201)).body;
      const token = await clientCredentialsToken(app, { id: created.client_id, secret: created.client_secret });
      await callerWith(app, token).get('/admin/clients').expect(200);

      const res = await remove(created.client_id).expect(200);
      expect(res.body).to.deep.equal({ deleted: created.client_id });

      expectError(await callerWith(app, token).get('/admin/clients'), 401, 'invalid_token');
      const refused = await app.http().post('/oauth/token').type('form').auth(created.client_id, created.client_secret).send({ grant_type: 'client_credentials' });
      expect(refused.body.error).to.equal('invalid_client');
      expectError(await admin.get(`/admin/clients/${created.client_id}`), 404, 'not_found');
      expectError(await remove(created.client_id), 404, 'not_found');
    }
  });

  it('answers in the shapes of the CLI\'s --json (client:create, client:list, client:delete)', async () => {
    const cli = async (args: string[]): Promise<unknown> => {
      const result = await runKeyportInProcess([...args, '--json'], app.env);
      expect(result.code, result.stderr).to.equal(0);
      return JSON.parse(result.stdout);
    };
    const viaCli = await cli(['client:create', '--name', 'parity', '--grant', 'authorization_code,refresh_token', '--redirect-uri', REDIRECT_URI, '--scopes', 'openid,read']) as { client_id: string };
    const viaApi = await admin.post('/admin/clients', { name: 'parity', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scopes: ['openid', 'read'] }).expect(201);
    expect(normalized(viaApi.body)).to.deep.equal(normalized(viaCli));

    const list = normalized((await admin.get('/admin/clients').expect(200)).body);
    expect(list).to.deep.equal(normalized(await cli(['client:list'])));

    expect(normalized((await admin.delete(`/admin/clients/${viaApi.body.client_id}`).expect(200)).body)).to.deep.equal(normalized(await cli(['client:delete', viaCli.client_id])));
  });
});
