import { expect } from 'chai';
import { decodeJwt } from 'jose';
import type { TestApp } from '../../support/app.js';
import { REDIRECT_URI, client, codeFlow, createUser, expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: refresh tokens (rotation and reuse detection)', () => {
  let app: TestApp;
  let web: RegisteredClient;
  let spa: RegisteredClient;
  let user: { id: string; email: string; password: string };
  before(async () => {
    app = await startOidcApp();
    web = await registerClient(app, { name: 'Web app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI] });
    spa = await registerClient(app, { name: 'SPA', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], public: true });
    user = await createUser(app);
  });
  after(async () => { await app.close(); });

  async function introspect(token: string): Promise<boolean> {
    return (await postForm(app, '/oauth/introspect', { token }, web)).body.active;
  }

  it('rotates the refresh token on every use', async () => {
    const { tokens, config } = await codeFlow(app, web, user);
    const first = tokens.refresh_token!;
    const second = await client.refreshTokenGrant(config, first);
    expect(second.refresh_token).to.be.a('string').and.not.equal(first);
    expect(second.access_token).not.to.equal(tokens.access_token);
    const third = await client.refreshTokenGrant(config, second.refresh_token!);
    expect(third.refresh_token).not.to.equal(second.refresh_token);
    expect(await introspect(third.access_token)).to.equal(true);
  });

  it('treats a replayed refresh token as theft: the whole family is revoked, JWTs included', async () => {
    const { tokens, config } = await codeFlow(app, web, user, { scope: 'read offline_access', resource: app.config.issuer });
    expect(decodeJwt(tokens.access_token).gid).to.be.a('string');
    const stolen = tokens.refresh_token!;
    const legit = await client.refreshTokenGrant(config, stolen, { resource: app.config.issuer });
    expect(await introspect(legit.access_token)).to.equal(true);

    const replay = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: stolen }, web);
    expectOAuthError(replay, 'invalid_grant', 400);

    // Every token of the grant is dead now: the rotated refresh token and the access tokens (JWTs).
    const next = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: legit.refresh_token! }, web);
    expectOAuthError(next, 'invalid_grant', 400);
    expect(await introspect(legit.access_token)).to.equal(false);
    expect(await introspect(tokens.access_token)).to.equal(false);
    expect(await app.services.oidc.accessTokens.verify(legit.access_token)).to.equal(undefined);
  });

  it('works for a public client (no secret) with the same rotation', async () => {
    const { tokens, config } = await codeFlow(app, spa, user, { scope: 'openid offline_access' });
    const next = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(next.refresh_token).not.to.equal(tokens.refresh_token);
    const replay = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: spa.id });
    expectOAuthError(replay, 'invalid_grant', 400);
  });

  it('may narrow the scope but not widen it', async () => {
    const { tokens, config } = await codeFlow(app, web, user, { scope: 'openid email offline_access' });
    const narrower = await client.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'openid' });
    expect(narrower.scope).to.equal('openid');
    const wider = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: narrower.refresh_token!, scope: 'openid admin' }, web);
    expectOAuthError(wider, 'invalid_scope', 400);
  });

  it('refuses a refresh token presented by another client, and unknown or malformed ones', async () => {
    const { tokens } = await codeFlow(app, web, user);
    const other = await registerClient(app, { grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI] });
    expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, other), 'invalid_grant', 400);
    for (const refreshToken of ['unknown', 'x'.repeat(1000), 'a.b.c']) {
      expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, web), 'invalid_grant', 400);
    }
    expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token' }, web), 'invalid_request', 400);
  });

  it('issues no refresh token without offline_access', async () => {
    const { tokens } = await codeFlow(app, web, user, { scope: 'openid email' });
    expect(tokens).not.to.have.property('refresh_token');
  });

  it('revoking a refresh token ends the family', async () => {
    const { tokens, config } = await codeFlow(app, web, user);
    await client.tokenRevocation(config, tokens.refresh_token!);
    expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, web), 'invalid_grant', 400);
    expect(await introspect(tokens.access_token)).to.equal(false);
  });
});
