import { expect } from 'chai';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import type { TestApp } from '../../support/app.js';
import { client, discover, expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: introspection (RFC 7662) of JWT and opaque access tokens', () => {
  let app: TestApp;
  let service: RegisteredClient;
  let resourceServer: RegisteredClient;
  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { name: 'service', grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
    resourceServer = await registerClient(app, { name: 'orders API', grantTypes: ['client_credentials'], scopes: ['read'] });
    await app.services.oidc.resourceServers.create({ audience: 'https://opaque.example.com', format: 'opaque' });
  });
  after(async () => { await app.close(); });

  async function jwtFor(registered: RegisteredClient, scope = 'read'): Promise<string> {
    return (await client.clientCredentialsGrant(await discover(app, registered), { scope })).access_token;
  }

  it('answers active:true with the RFC 7662 fields for a JWT (the engine alone refuses JWTs)', async () => {
    const token = await jwtFor(service, 'read write');
    const answer = await client.tokenIntrospection(await discover(app, resourceServer), token);
    expect(answer).to.include({ active: true, client_id: service.id, sub: service.id, scope: 'read write', iss: app.config.issuer, aud: app.config.issuer, token_type: 'Bearer' });
    expect(answer.exp).to.be.a('number');
    expect(answer.iat).to.be.a('number');
    expect(answer.jti).to.be.a('string');
  });

  it('lets the token owner introspect its own token, with client_secret_post', async () => {
    const token = await jwtFor(service);
    const res = await postForm(app, '/oauth/introspect', { token, client_id: service.id, client_secret: service.secret! }).expect(200);
    expect(res.body.active).to.equal(true);
    expect(res.headers['cache-control']).to.include('no-store');
  });

  it('answers active:false for a JWT signed by another key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = (await exportJWK(publicKey)).x;
    const forged = await new SignJWT({ client_id: service.id, scope: 'read' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .setIssuer(app.config.issuer).setSubject(service.id).setAudience(app.config.issuer).setJti('forged').setIssuedAt().setExpirationTime('1h')
      .sign(privateKey);
    const res = await postForm(app, '/oauth/introspect', { token: forged }, resourceServer).expect(200);
    expect(res.body).to.deep.equal({ active: false });
  });

  it('answers active:false for a tampered JWT', async () => {
    const [header, payload, signature] = (await jwtFor(service)).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    claims.scope = 'read write admin';
    const tampered = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    const res = await postForm(app, '/oauth/introspect', { token: tampered }, resourceServer).expect(200);
    expect(res.body).to.deep.equal({ active: false });
  });

  it('answers active:false for malformed and unknown tokens', async () => {
    for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'x'.repeat(5000), 'ünïcödé']) {
      const res = await postForm(app, '/oauth/introspect', { token }, resourceServer);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ active: false });
    }
  });

  it('introspects opaque tokens through the engine', async () => {
    const config = await discover(app, service);
    const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read', resource: 'https://opaque.example.com' });
    const answer = await client.tokenIntrospection(await discover(app, resourceServer), token);
    expect(answer).to.include({ active: true, client_id: service.id, aud: 'https://opaque.example.com' });
  });

  it('authenticates the caller like the engine does', async () => {
    const token = await jwtFor(service);
    expectOAuthError(await postForm(app, '/oauth/introspect', { token }, { id: resourceServer.id, secret: 'wrong' }), 'invalid_client', 401);
    expectOAuthError(await postForm(app, '/oauth/introspect', { token }), 'invalid_request', 400);
    expectOAuthError(await postForm(app, '/oauth/introspect', {}, resourceServer), 'invalid_request', 400);
    expectOAuthError(await postForm(app, '/oauth/introspect', { token: [token, token] } as unknown as Record<string, string>, resourceServer), 'invalid_request', 400);
  });

  it('hides other clients\' tokens from a public client', async () => {
    const spa = await registerClient(app, { grantTypes: ['authorization_code'], redirectUris: ['https://spa.example.com/cb'], public: true });
    const token = await jwtFor(service);
    const res = await postForm(app, '/oauth/introspect', { token, client_id: spa.id }).expect(200);
    expect(res.body).to.deep.equal({ active: false });
  });

  it('runs activity checks other features register', async () => {
    const token = await jwtFor(service);
    let allow = true;
    app.services.oidc.accessTokens.addActivityCheck(async (verified) => allow || verified.clientId !== service.id);
    expect((await postForm(app, '/oauth/introspect', { token }, resourceServer)).body.active).to.equal(true);
    allow = false;
    expect((await postForm(app, '/oauth/introspect', { token }, resourceServer)).body).to.deep.equal({ active: false });
    expect(await app.services.oidc.accessTokens.verify(token)).to.equal(undefined);
    allow = true;
  });

  it('verifies tokens for other features through services.oidc.accessTokens.verify', async () => {
    const token = await jwtFor(service, 'read write');
    const verified = await app.services.oidc.accessTokens.verify(token);
    expect(verified).to.include({ format: 'jwt', sub: service.id, clientId: service.id });
    expect(verified!.scopes).to.deep.equal(['read', 'write']);
    expect(verified!.claims).to.have.property('iss', app.config.issuer);
    expect(await app.services.oidc.accessTokens.verify('not a token')).to.equal(undefined);
  });
});
