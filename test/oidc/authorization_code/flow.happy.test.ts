import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import type { TestApp } from '../../support/app.js';
import { REDIRECT_URI, client, codeFlow, createUser, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: authorization code + PKCE through the login and consent pages', () => {
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

  it('signs the user in and issues a verified ID token, an access token for userinfo, and a refresh token', async () => {
    const { tokens, config } = await codeFlow(app, web, user);
    const claims = tokens.claims()!;
    expect(claims).to.include({ sub: user.id, iss: app.config.issuer, aud: web.id });
    expect(decodeProtectedHeader(tokens.id_token!)).to.include({ alg: 'ES256' });
    expect(tokens.refresh_token).to.be.a('string');
    expect(tokens.scope!.split(' ')).to.include.members(['openid', 'email', 'offline_access']);

    const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).to.include({ sub: user.id, email: user.email });

    const introspection = await client.tokenIntrospection(config, tokens.access_token);
    expect(introspection).to.include({ active: true, sub: user.id, client_id: web.id });
  });

  it('issues an RFC 9068 JWT for an API when a resource is named, with the user as subject', async () => {
    const { tokens } = await codeFlow(app, web, user, { scope: 'read offline_access', resource: app.config.issuer });
    expect(decodeProtectedHeader(tokens.access_token)).to.include({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${app.config.issuer}/oauth/jwks`)), { issuer: app.config.issuer, audience: app.config.issuer });
    expect(payload).to.include({ sub: user.id, client_id: web.id, scope: 'read' });
    expect(payload.gid, 'grant id, for family revocation').to.be.a('string');
    expect((await postForm(app, '/oauth/introspect', { token: tokens.access_token }, web)).body).to.include({ active: true, sub: user.id, scope: 'read' });
  });

  it('gives an OIDC client a JWT for the API when it names the resource at the token endpoint', async () => {
    const { tokens } = await codeFlow(app, web, user, { scope: 'openid read', tokenResource: app.config.issuer });
    expect(decodeJwt(tokens.access_token)).to.include({ sub: user.id, aud: app.config.issuer, scope: 'read' });
    expect(tokens.claims()).to.include({ sub: user.id });
  });

  it('works for a public client with PKCE and no secret', async () => {
    const { tokens, config } = await codeFlow(app, spa, user, { scope: 'openid email offline_access' });
    expect(tokens.claims()).to.include({ sub: user.id, aud: spa.id });
    expect(await client.fetchUserInfo(config, tokens.access_token, user.id)).to.include({ email: user.email });
  });

  it('counts the tokens it issues by grant', async () => {
    const metrics = (await app.http().get('/metrics')).text;
    expect(metrics).to.match(/keyport_tokens_issued_total\{grant="authorization_code",kind="access_token"\} [1-9]/);
    expect(metrics).to.match(/keyport_tokens_issued_total\{grant="authorization_code",kind="refresh_token"\} [1-9]/);
  });
});
