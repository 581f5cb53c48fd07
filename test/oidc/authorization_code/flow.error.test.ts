import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { REDIRECT_URI, client, createUser, discover, expectOAuthError, postForm, registerClient, signInThroughPages, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: authorization code errors', () => {
  let app: TestApp;
  let web: RegisteredClient;
  let spa: RegisteredClient;
  let user: { id: string; email: string; password: string };
  before(async () => {
    app = await startOidcApp();
    web = await registerClient(app, { name: 'Web app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI] });
    spa = await registerClient(app, { name: 'SPA', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], public: true });
    user = await createUser(app);
  });
  after(async () => { await app.close(); });

  function authorize(query: Record<string, string>) {
    return app.http().get('/oauth/authorize').query(query);
  }

  /** A code for `web` (with PKCE), straight from the pages. */
  async function freshCode(registered = web, scope = 'openid email') {
    const config = await discover(app, registered);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope, state: 'st', nonce: 'n', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const callback = await signInThroughPages(app, url, user);
    return { config, verifier, callback, code: callback.searchParams.get('code')! };
  }

  it('shows an error page (no redirect) for a redirect URI that is not registered', async () => {
    const res = await authorize({ client_id: web.id, response_type: 'code', scope: 'openid', redirect_uri: 'https://evil.example.com/cb', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).set('Accept', 'text/html');
    expect(res.status).to.equal(400);
    expect(res.headers).not.to.have.property('location');
    expect(res.text).to.include('redirect_uri');
    expect(res.headers['content-security-policy']).to.include("frame-ancestors 'none'");
  });

  it('shows an error page for an unknown client (the browser cannot be sent back anywhere)', async () => {
    const res = await authorize({ client_id: 'cli_unknown', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI });
    expect(res.status).to.equal(400);
    expect(res.headers).not.to.have.property('location');
    expect(res.headers['content-type']).to.match(/^text\/html/);
    expect(res.text).to.include('invalid_client');
    expect(res.text).not.to.match(/at .*\.js:\d+/);
  });

  it('requires PKCE from a public client', async () => {
    const res = await authorize({ client_id: spa.id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 's' });
    expect(res.status).to.equal(303);
    const location = new URL(res.headers.location);
    expect(`${location.origin}${location.pathname}`).to.equal(REDIRECT_URI);
    expect(location.searchParams.get('error')).to.equal('invalid_request');
    expect(location.searchParams.get('error_description')).to.match(/PKCE/);
    expect(location.searchParams.get('state')).to.equal('s');
  });

  it('accepts only S256 as PKCE method', async () => {
    const res = await authorize({ client_id: spa.id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' });
    expect(new URL(res.headers.location).searchParams.get('error')).to.equal('invalid_request');
  });

  it('refuses the implicit and hybrid response types', async () => {
    for (const responseType of ['token', 'id_token', 'code id_token']) {
      const res = await authorize({ client_id: web.id, response_type: responseType, scope: 'openid', redirect_uri: REDIRECT_URI, nonce: 'n' });
      expect(res.status).to.equal(303);
      const location = new URL(res.headers.location);
      const error = new URLSearchParams(location.hash.slice(1)).get('error') ?? location.searchParams.get('error');
      expect(error).to.equal('unsupported_response_type');
      expect(location.hash + location.search).not.to.match(/access_token|id_token=|code=/);
    }
  });

  it('refuses an unknown resource at the authorization endpoint', async () => {
    const res = await authorize({ client_id: web.id, response_type: 'code', scope: 'read', redirect_uri: REDIRECT_URI, resource: 'https://unknown.example.com' });
    expect(new URL(res.headers.location).searchParams.get('error')).to.equal('invalid_target');
  });

  it('refuses a replayed code and revokes what the first exchange issued', async () => {
    const { config, verifier, callback } = await freshCode();
    const first = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st', expectedNonce: 'n' });
    let failure: client.ResponseBodyError | undefined;
    await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st', expectedNonce: 'n' }).catch((err: client.ResponseBodyError) => { failure = err; });
    expect(failure?.error).to.equal('invalid_grant');
    expect((await client.tokenIntrospection(config, first.access_token)).active).to.equal(false);
  });

  it('refuses a wrong or missing code_verifier', async () => {
    const { code } = await freshCode();
    const wrong = await postForm(app, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: client.randomPKCECodeVerifier() }, web);
    expectOAuthError(wrong, 'invalid_grant', 400);
    const { code: other } = await freshCode();
    const missing = await postForm(app, '/oauth/token', { grant_type: 'authorization_code', code: other, redirect_uri: REDIRECT_URI }, web);
    expectOAuthError(missing, 'invalid_grant', 400);
  });

  it('refuses a code at the token endpoint with another redirect URI or another client', async () => {
    const { code, verifier } = await freshCode();
    const redirect = await postForm(app, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: 'https://client.example.com/other', code_verifier: verifier }, web);
    expectOAuthError(redirect, 'invalid_grant', 400);
    const other = await registerClient(app, { grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const stolen = await freshCode();
    const res = await postForm(app, '/oauth/token', { grant_type: 'authorization_code', code: stolen.code, redirect_uri: REDIRECT_URI, code_verifier: stolen.verifier }, other);
    expectOAuthError(res, 'invalid_grant', 400);
  });

  it('refuses malformed token requests for this grant', async () => {
    const bodies: Array<Record<string, string>> = [{ grant_type: 'authorization_code' }, { grant_type: 'authorization_code', code: 'nope', redirect_uri: REDIRECT_URI, code_verifier: 'short' }, { grant_type: 'authorization_code', code: 'x'.repeat(3000), redirect_uri: REDIRECT_URI }];
    for (const body of bodies) {
      const res = await postForm(app, '/oauth/token', body, web);
      expect(res.status, res.text).to.equal(400);
      expect(res.body.error).to.be.oneOf(['invalid_request', 'invalid_grant']);
    }
  });

  it('sends access_denied back to the client when the user denies consent', async () => {
    const config = await discover(app, web);
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st', nonce: 'n', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const callback = await signInThroughPages(app, url, { ...user, consent: 'deny' });
    expect(callback.searchParams.get('error')).to.equal('access_denied');
    expect(callback.searchParams.get('state')).to.equal('st');
    expect(callback.searchParams.has('code')).to.equal(false);
  });
});
