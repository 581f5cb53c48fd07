import { expect } from 'chai';
import { ApiKey } from '../../src/db/entities/api_key.js';
import { runKeyport, runKeyportInProcess } from '../support/cli.js';
import {
  ACCESS_TOKEN_TYPE, agentKey, API_KEY_CLIENT, API_KEY_TYPE, claimsOf, exchangeForm, expectError, expectOAuthError, fixture, introspect, login, type ExchangeFixture,
} from './support.js';

/** Access types mean something on the token side too (docs/api-keys.md "API keys" and "Exchanging API keys for tokens"). */
describe('exchange: access types and the built-in client', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture({ env: { KEYPORT_EXTRA_SCOPES: 'billing' } }); });
  after(async () => { await fx.app.close(); });

  it('an admin key\'s token carries admin and access_type admin', async () => {
    const { apiKey } = await agentKey(fx.app, { accessType: 'admin', scopes: ['read', 'admin', 'billing'] });
    const res = await login(fx.app, apiKey);
    expect(res.body.scope).to.equal('read admin billing');
    expect(claimsOf(res.body.access_token)).to.include({ access_type: 'admin', scope: 'read admin billing' });
    const adminOnly = await login(fx.app, apiKey, { session_id: 'ops', scope: 'admin' });
    expect(adminOnly.body.scope).to.equal('admin');
    expect(await introspect(fx, adminOnly.body.access_token)).to.include({ access_type: 'admin', scope: 'admin' });
  });

  it('a non-admin key never gets admin, at either door, even if its row were tampered with', async () => {
    const integration = await agentKey(fx.app, { accessType: 'integrations', scopes: ['read', 'billing'] });
    expectError(await login(fx.app, integration.apiKey, { scope: 'admin' }), 403, 'insufficient_scope');
    expectOAuthError(await exchangeForm(fx.app, { subject_token: integration.apiKey, subject_token_type: API_KEY_TYPE, scope: 'admin' }), 'invalid_scope', 400);

    const transactional = await agentKey(fx.app, { accessType: 'transactional', scopes: ['read', 'write'] });
    // Someone edits the database behind Keyport's back; the token still follows the access type.
    await fx.app.services.database.dataSource.getRepository(ApiKey).update({ id: transactional.key.id }, { scopes: ['read', 'write', 'delete', 'admin'] });
    fx.app.services.keys.verifier.clearCache();
    const res = await login(fx.app, transactional.apiKey);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.scope).to.equal('read write');
    expect(claimsOf(res.body.access_token)).to.include({ access_type: 'transactional', scope: 'read write' });
    expectError(await login(fx.app, transactional.apiKey, { scope: 'admin' }), 403, 'insufficient_scope');
    expectError(await login(fx.app, transactional.apiKey, { scope: 'delete' }), 403, 'insufficient_scope');
  });

  it('an exchanged access token keeps access_type and env and cannot widen to admin', async () => {
    const { apiKey } = await agentKey(fx.app, { accessType: 'integrations', env: 'test', scopes: ['read', 'write'] });
    const { body } = await login(fx.app, apiKey);
    expectOAuthError(await exchangeForm(fx.app, { subject_token: body.access_token, subject_token_type: ACCESS_TOKEN_TYPE, scope: 'admin' }), 'invalid_scope', 400);
    const narrower = await exchangeForm(fx.app, { subject_token: body.access_token, subject_token_type: ACCESS_TOKEN_TYPE, scope: 'read' });
    expect(claimsOf(narrower.body.access_token)).to.include({ access_type: 'integrations', env: 'test' });
  });

  it('keyport-api-key is built in: client:delete cannot remove it, and it keeps working', async () => {
    const result = await runKeyport(['client:delete', API_KEY_CLIENT], fx.app.env);
    expect(result.code).to.not.equal(0);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    let thrown: unknown;
    try {
      await fx.app.services.oidc.clients.delete(API_KEY_CLIENT, { actor: 'test' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.have.property('code', 'not_found');
    const { apiKey } = await agentKey(fx.app);
    expect((await login(fx.app, apiKey)).status).to.equal(200);
    const listed = await runKeyportInProcess(['client:list', '--json'], fx.app.env);
    expect(listed.code, listed.stderr).to.equal(0);
  });

  it('keyport-api-key cannot use other grants: it is public and has no client credentials', async () => {
    expectOAuthError(await fx.app.http().post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: API_KEY_CLIENT }), 'invalid_request', 400);
    expectOAuthError(await fx.app.http().post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: API_KEY_CLIENT, client_secret: 'x' }), 'invalid_client', 401);
  });
});
