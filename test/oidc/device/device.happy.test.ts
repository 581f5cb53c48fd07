import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { client, createUser, expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';
import { approveDevice, DEVICE_GRANT, enterCode, USER_CODE } from './support.js';

/**
 * RFC 8628 through openid-client and the real pages: the device asks for a code, a person enters
 * it on `/oauth/device` (Keyport's page, no JavaScript), confirms the client and scopes, signs in
 * and consents; the device's polling then gets its tokens. Polling too fast is `slow_down`.
 */
describe('oidc: device authorization grant (RFC 8628)', () => {
  let app: TestApp;
  let device: RegisteredClient;
  let user: { email: string; password: string };

  before(async () => {
    app = await startOidcApp();
    device = await registerClient(app, { name: 'Acme CLI', grantTypes: ['device_code', 'refresh_token'], public: true, scopes: ['read', 'offline_access'] });
    user = await createUser(app, 'device-owner@example.com');
  });
  after(async () => { await app.close(); });

  async function deviceConfig(): Promise<client.Configuration> {
    return client.discovery(new URL(app.config.issuer), device.id, undefined, client.None(), { execute: [client.allowInsecureRequests] });
  }

  it('discovery advertises the device authorization endpoint and grant', async () => {
    const res = await app.http().get('/.well-known/openid-configuration').expect(200);
    expect(res.body.device_authorization_endpoint).to.equal(`${app.config.issuer}/oauth/device/auth`);
    expect(res.body.grant_types_supported).to.include(DEVICE_GRANT);
  });

  it('openid-client: codes easy to type, the page names the client and scopes, the device gets its tokens', async function () {
    this.timeout(30_000);
    const config = await deviceConfig();
    const started = await client.initiateDeviceAuthorization(config, { scope: 'read offline_access' });
    expect(started.user_code).to.match(USER_CODE);
    expect(started.verification_uri).to.equal(`${app.config.issuer}/oauth/device`);
    expect(started.interval).to.equal(5);
    expect(started.expires_in).to.be.within(590, 600);

    const agent = app.http();
    // Typed the way people type: lower case, no dash, spaces around.
    const confirmation = await enterCode(agent, ` ${started.user_code.replace('-', '').toLowerCase()} `);
    expect(confirmation.status).to.equal(200);
    expect(confirmation.text).to.include('Acme CLI').and.include(started.user_code).and.include('Read your data').and.include('<code>read</code>');
    expect(confirmation.headers['content-security-policy']).to.match(/default-src 'none'/);
    expect(confirmation.text).not.to.match(/<script|onfocus=|onclick=/);

    const done = await approveDevice(app, agent, started.user_code, user);
    expect(done.status, done.text).to.equal(200);
    expect(done.text).to.include('Device connected').and.include('Acme CLI');

    const tokens = await client.pollDeviceAuthorizationGrant(config, started);
    expect(tokens.access_token).to.be.a('string');
    expect(tokens.refresh_token).to.be.a('string');
    expect(tokens.scope?.split(' ')).to.include('read');
    const reused = await postForm(app, '/oauth/token', { grant_type: DEVICE_GRANT, device_code: started.device_code, client_id: device.id });
    expectOAuthError(reused, 'invalid_grant', 400);
  });

  it('polling faster than the interval is slow_down; a cancelled request is access_denied', async () => {
    const config = await deviceConfig();
    const started = await client.initiateDeviceAuthorization(config, { scope: 'read' });
    const poll = () => postForm(app, '/oauth/token', { grant_type: DEVICE_GRANT, device_code: started.device_code, client_id: device.id });
    expectOAuthError(await poll(), 'authorization_pending', 400);
    expectOAuthError(await poll(), 'slow_down', 400);

    const cancelled = await approveDevice(app, app.http(), started.user_code, user, 'abort');
    expect(cancelled.text).to.include('You cancelled the request');
    await new Promise((resolve) => setTimeout(resolve, 5100));
    expectOAuthError(await poll(), 'access_denied', 400);
  });

  it('a client not registered for the grant cannot start it', async () => {
    const other = await registerClient(app, { name: 'no device', grantTypes: ['client_credentials'] });
    const res = await postForm(app, '/oauth/device/auth', { scope: 'read' }, other);
    expectOAuthError(res, 'invalid_request', 400);
    expect(res.body.error_description).to.match(/device_code/);
  });
});

describe('oidc: device authorization grant off (DEVICE_FLOW=false)', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp({ env: { DEVICE_FLOW: 'false' } }); });
  after(async () => { await app.close(); });

  it('discovery advertises exactly what is enabled: no device endpoint or grant; DPoP and PAR stay', async () => {
    const res = await app.http().get('/.well-known/openid-configuration').expect(200);
    expect(res.body).not.to.have.property('device_authorization_endpoint');
    expect(res.body.grant_types_supported).not.to.include(DEVICE_GRANT);
    expect(res.body.pushed_authorization_request_endpoint).to.equal(`${app.config.issuer}/oauth/par`);
    expect(res.body.dpop_signing_alg_values_supported).to.deep.equal(['ES256', 'Ed25519', 'EdDSA']);
    expect(res.body).not.to.have.property('require_pushed_authorization_requests');
    await app.http().get('/oauth/device').expect(404);
    const post = await app.http().post('/oauth/device/auth').type('form').send({ client_id: 'x' });
    expect(post.status).to.equal(404);
  });
});
