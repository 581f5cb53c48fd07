import { expect } from 'chai';
import { adminCaller } from '../../admin/support.js';
import { agentKey, claimsOf, expectOAuthError, fixture, introspect, type ExchangeFixture } from '../../exchange/support.js';
import { runKeyportInProcess } from '../../support/cli.js';
import { client, discover, registerClient } from '../support.js';
import { dpopKey, proof } from './support.js';

/**
 * A client may be required to use DPoP (`client:create --require-dpop`, `require_dpop` in the
 * admin API): the engine's `dpop_bound_access_tokens`. Every token request of such a client
 * without a proof is `invalid_grant`, at the engine's grants and at the RFC 8693 grant alike.
 */
describe('oidc: clients that require DPoP (--require-dpop, require_dpop)', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture(); });
  after(async () => { await fx.app.close(); });

  it('client_credentials: no proof is invalid_grant; with openid-client\'s DPoP handle a bound token', async () => {
    const strict = await registerClient(fx.app, { name: 'strict', grantTypes: ['client_credentials'], scopes: ['read'], requireDpop: true });
    const config = await discover(fx.app, strict);
    const refused = await fx.app.http().post('/oauth/token').type('form').auth(strict.id, strict.secret!).send({ grant_type: 'client_credentials', scope: 'read' });
    expectOAuthError(refused, 'invalid_grant', 400);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')) });
    expect(tokens.token_type).to.equal('dpop');
    expect(await introspect(fx, tokens.access_token)).to.include({ token_type: 'DPoP' });
  });

  it('the RFC 8693 API-key exchange by such a client: no proof is invalid_grant; a proof binds the token', async () => {
    const strict = await registerClient(fx.app, { name: 'strict exchanger', grantTypes: ['token_exchange'], scopes: ['read'], requireDpop: true });
    const { apiKey } = await agentKey(fx.app);
    const form = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key', session_id: 'strict' };
    expectOAuthError(await fx.app.http().post('/oauth/token').type('form').auth(strict.id, strict.secret!).send(form), 'invalid_grant', 400);
    const key = await dpopKey();
    const bound = await fx.app.http().post('/oauth/token').type('form').auth(strict.id, strict.secret!).set('DPoP', await proof(key, 'POST', `${fx.app.config.issuer}/oauth/token`)).send(form);
    expect(bound.status, bound.text).to.equal(200);
    expect(bound.body.token_type).to.equal('DPoP');
    expect(claimsOf(bound.body.access_token as string).cnf).to.deep.equal({ jkt: key.jkt });
  });

  it('is set by the admin API and shown in the client\'s view', async () => {
    const admin = await adminCaller(fx.app);
    const created = await admin.post('/admin/clients', { name: 'admin strict', grant_types: ['client_credentials'], require_dpop: true });
    expect(created.status, created.text).to.equal(201);
    expect(created.body.require_dpop).to.equal(true);
    const shown = await admin.get(`/admin/clients/${created.body.client_id as string}`);
    expect(shown.body.client.require_dpop).to.equal(true);
    const plain = await admin.post('/admin/clients', { name: 'admin plain', grant_types: ['client_credentials'] });
    expect(plain.body).not.to.have.property('require_dpop');
    const bad = await admin.post('/admin/clients', { name: 'bad', grant_types: ['client_credentials'], require_dpop: 'yes' });
    expect(bad.status).to.equal(400);
  });

  it('is set by client:create --require-dpop; --require-par needs authorization_code', async () => {
    const res = await runKeyportInProcess(['client:create', '--name', 'cli strict', '--grant', 'client_credentials', '--require-dpop', '--json'], fx.app.env);
    expect(res.code, res.stderr).to.equal(0);
    const created = JSON.parse(res.stdout);
    expect(created.require_dpop).to.equal(true);
    const refused = await fx.app.http().post('/oauth/token').type('form').auth(created.client_id as string, created.client_secret as string).send({ grant_type: 'client_credentials' });
    expectOAuthError(refused, 'invalid_grant', 400);
    const par = await runKeyportInProcess(['client:create', '--name', 'cli par', '--grant', 'client_credentials', '--require-par', '--json'], fx.app.env);
    expect(par.code).not.to.equal(0);
    expect(par.stderr).to.match(/require-par only applies to the authorization_code grant/);
  });
});
