import { expect } from 'chai';
import { createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import type { TestApp } from '../../support/app.js';
import { client, discover, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: client credentials', () => {
  let app: TestApp;
  let service: RegisteredClient;
  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { name: 'billing', grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
  });
  after(async () => { await app.close(); });

  it('issues an RFC 9068 JWT that verifies against the JWKS with jose', async () => {
    const config = await discover(app, service);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read write' });
    expect(tokens.token_type).to.match(/^bearer$/i);
    expect(tokens.expires_in).to.equal(3600);
    expect(tokens.scope).to.equal('read write');
    expect(tokens).not.to.have.property('refresh_token');

    const header = decodeProtectedHeader(tokens.access_token);
    expect(header).to.include({ typ: 'at+jwt', alg: 'ES256' });
    const jwks = createRemoteJWKSet(new URL(`${app.config.issuer}/oauth/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: app.config.issuer, audience: app.config.issuer, typ: 'at+jwt' });
    expect(payload).to.include({ sub: service.id, client_id: service.id, scope: 'read write' });
    for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope']) expect(payload, claim).to.have.property(claim);
    expect(payload.exp! - payload.iat!).to.equal(3600);
  });

  it('narrows the scope to what the client may have', async () => {
    const config = await discover(app, service);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read admin' });
    expect(tokens.scope).to.equal('read');
  });

  it('accepts client_secret_post as well as client_secret_basic', async () => {
    const res = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', client_id: service.id, client_secret: service.secret!, scope: 'read' }).expect(200);
    expect(res.body.access_token).to.be.a('string');
    expect(res.headers['cache-control']).to.include('no-store');
  });

  it('authenticates a client with private_key_jwt (no shared secret at all)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig', kid: 'k1' };
    const signer = await registerClient(app, { name: 'signer', grantTypes: ['client_credentials'], scopes: ['read'], jwks: { keys: [jwk] } });
    expect(signer.secret).to.equal(undefined);
    const config = await discover(app, signer, client.PrivateKeyJwt(privateKey));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(decodeProtectedHeader(tokens.access_token).typ).to.equal('at+jwt');
    // An assertion signed with another key is refused.
    const stranger = await generateKeyPair('ES256');
    const forged = await discover(app, signer, client.PrivateKeyJwt(stranger.privateKey));
    let failure: client.ResponseBodyError | undefined;
    await client.clientCredentialsGrant(forged, { scope: 'read' }).catch((err: client.ResponseBodyError) => { failure = err; });
    expect(failure?.error).to.equal('invalid_client');
  });

  it('issues a token for a named resource (RFC 8707) with that audience', async () => {
    const api = 'https://api.example.com/';
    await app.services.oidc.resourceServers.create({ audience: api, format: 'jwt', scopes: ['read'] });
    const config = await discover(app, service);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read write', resource: api });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${app.config.issuer}/oauth/jwks`)), { audience: api });
    // The resource server only understands "read".
    expect(payload.scope).to.equal('read');
    expect(tokens.scope).to.equal('read');
  });

  it('issues opaque tokens for a resource server configured for them', async () => {
    const api = 'https://opaque.example.com';
    await app.services.oidc.resourceServers.create({ audience: api, format: 'opaque', accessTokenTtl: 600 });
    const config = await discover(app, service);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read', resource: api });
    expect(tokens.access_token).not.to.include('.');
    expect(tokens.expires_in).to.equal(600);
    const introspection = await client.tokenIntrospection(config, tokens.access_token);
    expect(introspection).to.include({ active: true, client_id: service.id, aud: api, scope: 'read' });
  });

  it('counts issued tokens by grant in /metrics', async () => {
    const config = await discover(app, service);
    await client.clientCredentialsGrant(config, { scope: 'read' });
    const metrics = await app.http().get('/metrics').expect(200);
    expect(metrics.text).to.match(/keyport_tokens_issued_total\{grant="client_credentials",kind="access_token"\} [1-9]/);
  });
});
