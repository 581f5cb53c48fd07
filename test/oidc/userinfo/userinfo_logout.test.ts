import { expect } from 'chai';
import type TestAgent from 'supertest/lib/agent.js';
import type { TestApp } from '../../support/app.js';
import { REDIRECT_URI, client, createUser, discover, postForm, registerClient, signInThroughPages, startOidcApp, type RegisteredClient } from '../support.js';

const AFTER_LOGOUT = 'https://client.example.com/signed-out';

describe('oidc: userinfo and end-session', () => {
  let app: TestApp;
  let web: RegisteredClient;
  let user: { id: string; email: string; password: string };
  before(async () => {
    app = await startOidcApp();
    web = await registerClient(app, { name: 'Web app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], postLogoutRedirectUris: [AFTER_LOGOUT] });
    user = await createUser(app);
  });
  after(async () => { await app.close(); });

  /** Signs in with one browser (agent) so the same session can be ended later. */
  async function signedIn(scope = 'openid email') {
    const agent = app.http() as unknown as TestAgent;
    const config = await discover(app, web);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope, state: 'st', nonce: 'n', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await signInThroughPages(app, url, user, agent as never);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st', expectedNonce: 'n' });
    return { agent, config, tokens };
  }

  it('answers userinfo with the user\'s claims for the granted scopes', async () => {
    const { config, tokens } = await signedIn('openid email');
    expect(await client.fetchUserInfo(config, tokens.access_token, user.id)).to.deep.equal({ sub: user.id, email: user.email });
    const { tokens: narrow, config: narrowConfig } = await signedIn('openid');
    expect(await client.fetchUserInfo(narrowConfig, narrow.access_token, user.id)).to.deep.equal({ sub: user.id });
  });

  it('refuses userinfo without a token, with a bad one, or with a token meant for an API', async () => {
    const none = await app.http().get('/oauth/userinfo');
    expect(none.status).to.be.oneOf([400, 401]);
    expect(none.body.error).to.be.oneOf(['invalid_request', 'invalid_token']);
    const bad = await app.http().get('/oauth/userinfo').set('Authorization', 'Bearer nope');
    expect(bad.status).to.equal(401);
    expect(bad.body.error).to.equal('invalid_token');
    expect(bad.headers['www-authenticate']).to.match(/^Bearer /);
    const service = await registerClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] });
    const api = await client.clientCredentialsGrant(await discover(app, service), { scope: 'read' });
    const forApi = await app.http().get('/oauth/userinfo').set('Authorization', `Bearer ${api.access_token}`);
    expect(forApi.status).to.equal(401);
    expect(forApi.body.error).to.equal('invalid_token');
  });

  it('ends the session: confirmation page, then back to the client; the session\'s tokens stop working', async () => {
    const { agent, config, tokens } = await signedIn('openid email');
    const url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: AFTER_LOGOUT, state: 'bye' });
    const page = await agent.get(`${url.pathname}${url.search}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.include('Yes, sign me out');
    expect(page.text).to.include('Web app');
    expect(page.headers['x-frame-options']).to.equal('DENY');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)![1]!;
    const action = /action="([^"]+)"/.exec(page.text)![1]!;
    const done = await agent.post(new URL(action, app.config.issuer).pathname).type('form').send({ xsrf, logout: 'yes' });
    expect(done.status).to.equal(303);
    const back = new URL(done.headers.location);
    expect(`${back.origin}${back.pathname}`).to.equal(AFTER_LOGOUT);
    expect(back.searchParams.get('state')).to.equal('bye');

    expect((await postForm(app, '/oauth/introspect', { token: tokens.access_token }, web)).body.active).to.equal(false);
    const userinfo = await app.http().get('/oauth/userinfo').set('Authorization', `Bearer ${tokens.access_token}`);
    expect(userinfo.status).to.equal(401);
    // Signed out: a new authorization request asks for the password again.
    const again = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const start = await agent.get(`${again.pathname}${again.search}`);
    const login = await agent.get(start.headers.location);
    expect(login.text).to.include('name="password"');
  });

  it('shows a signed-out page without a post-logout redirect, and refuses unregistered ones', async () => {
    const { agent } = await signedIn('openid');
    const page = await agent.get('/oauth/logout');
    expect(page.status).to.equal(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)![1]!;
    const done = await agent.post('/oauth/logout/confirm').type('form').send({ xsrf, logout: 'yes' });
    const success = await agent.get(new URL(done.headers.location).pathname);
    expect(success.status).to.equal(200);
    expect(success.text).to.include('You have been signed out');

    const refused = await app.http().get('/oauth/logout').query({ post_logout_redirect_uri: 'https://evil.example.com/' , client_id: web.id });
    expect(refused.status).to.equal(400);
    expect(refused.headers).not.to.have.property('location');
    // Without a client, a post-logout URI is ignored: the browser ends on Keyport's own page.
    const stranger = app.http();
    const auto = await stranger.get('/oauth/logout').query({ post_logout_redirect_uri: 'https://evil.example.com/' });
    const autoXsrf = /name="xsrf" value="([^"]+)"/.exec(auto.text)![1]!;
    const ended = await stranger.post('/oauth/logout/confirm').type('form').send({ xsrf: autoXsrf, logout: 'yes' });
    expect(new URL(ended.headers.location).pathname).to.equal('/oauth/logout/success');

    const forged = await app.http().post('/oauth/logout/confirm').type('form').send({ xsrf: 'forged', logout: 'yes' });
    expect(forged.status).to.be.within(400, 499);
  });
});
