import { expect } from 'chai';
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import { agentKey, claimsOf, client, expectError, fixture, login, registerClient, type ExchangeFixture } from './support.js';

/** GET /auth/test with a bearer access token instead of an API key (SPEC §3). */
describe('exchange: GET /auth/test with a bearer token', () => {
  let fx: ExchangeFixture;
  before(async () => {
    fx = await fixture({ env: { TOKEN_TTL: '60' } });
    await fx.app.services.oidc.resourceServers.create({ audience: 'https://opaque.example.com', format: 'opaque' });
  });
  after(async () => { await fx.app.close(); });

  const check = (token: string) => fx.app.http().get('/auth/test').set('Authorization', `Bearer ${token}`);

  it('describes the key, agent and the token\'s own (narrower) scopes for a token from /auth/login', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app, { env: 'test' });
    const { body } = await login(fx.app, apiKey, { session_id: 'probe', scope: 'read' });
    const res = await check(body.access_token);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.authenticated).to.equal(true);
    expect(res.body.agent).to.include({ id: agent.id, status: 'active' });
    expect(res.body.key).to.include({ id: key.id, prefix: key.prefix, env: 'test', access_type: 'integrations' });
    expect(res.body.scopes).to.deep.equal(['read']);
    expect(res.body.rate_limit).to.have.keys('limit', 'remaining', 'reset');
    expect(res.body.token).to.include({ client_id: 'keyport-api-key', sub: agent.id, session_id: 'probe' });
    // POST answers the same.
    const viaPost = await fx.app.http().post('/auth/test').set('Authorization', `Bearer ${body.access_token}`).send({});
    expect(viaPost.body.key.id).to.equal(key.id);
  });

  it('accepts any Keyport access token: a client-credentials JWT and an opaque token', async () => {
    const service = await registerClient(fx.app, { name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
    const config = await client.discovery(new URL(fx.app.config.issuer), service.id, undefined, client.ClientSecretBasic(service.secret!), { execute: [client.allowInsecureRequests] });
    for (const parameters of [{ scope: 'read' }, { scope: 'read', resource: 'https://opaque.example.com' }] as Array<Record<string, string>>) {
      const { access_token: token } = await client.clientCredentialsGrant(config, parameters);
      const res = await check(token);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.include({ authenticated: true, agent: null, key: null, scopes: ['read'], rate_limit: null });
      expect(res.body.token).to.include({ client_id: service.id, sub: service.id, session_id: null });
    }
  });

  it('401 invalid_token for garbage, tampered, foreign-signed, expired and revoked tokens', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const { body } = await login(fx.app, apiKey, { session_id: 'doomed' });
    const [header, payload, signature] = body.access_token.split('.');
    const claims = claimsOf(body.access_token);
    const tampered = [header, Buffer.from(JSON.stringify({ ...claims, scope: 'read write admin' })).toString('base64url'), signature].join('.');
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: (await exportJWK(publicKey)).x })
      .sign(privateKey);
    const expired = await new SignJWT({ ...claims, iat: 1, exp: 2 }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
    for (const token of ['garbage', 'a.b.c', tampered, foreign, expired, `${payload}`]) {
      const res = await check(token);
      expectError(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).to.equal('Bearer error="invalid_token"');
    }
    expect((await check(body.access_token)).status).to.equal(200);
    await fx.app.services.keys.apiKeys.revoke(key.id, { actor: 'test' });
    expectError(await check(body.access_token), 401, 'invalid_token');
  });

  it('401 invalid_token once the token has expired (TOKEN_TTL=60), and a new login mints a new one', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const first = await login(fx.app, apiKey, { session_id: 'short' });
    expect(first.body.expires_in).to.be.within(55, 60);
    expect((await check(first.body.access_token)).status).to.equal(200);
    // No minute-long sleep: the session forgets its token as if it had expired ...
    await fx.app.services.database.dataSource.getRepository(ApiKeySession).update({ keyId: key.id }, { tokenExpiresAt: new Date(Date.now() - 1000) });
    const second = await login(fx.app, apiKey, { session_id: 'short' });
    expect(second.body.access_token).not.to.equal(first.body.access_token);
    // ... and a token past its exp is refused (signed by Keyport's own key, so only the expiry is wrong).
    const ring = fx.app.services.oidc.host.keyRing;
    const jwk = ring.privateJwks.find((candidate) => candidate.kid === ring.signingKid)!;
    const signer = await importJWK(jwk as Parameters<typeof importJWK>[0], 'ES256');
    const now = Math.floor(Date.now() / 1000);
    const stale = await new SignJWT({ ...claimsOf(second.body.access_token), iat: now - 120, exp: now - 60 })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid as string })
      .sign(signer);
    expectError(await check(stale), 401, 'invalid_token');
    const fresh = await new SignJWT({ ...claimsOf(second.body.access_token), jti: 'fresh-copy' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jwk.kid as string }).sign(signer);
    expect((await check(fresh)).status, 'the same claims with a valid exp pass: only the expiry refused the other').to.equal(200);
  });

  it('still prefers an API key, and refuses a key beside a different bearer token', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const { body } = await login(fx.app, apiKey);
    expectError(await fx.app.http().get('/auth/test').set('Authorization', `Bearer ${body.access_token}`).set('X-API-Key', apiKey), 400, 'invalid_request');
    const viaKey = await fx.app.http().get('/auth/test').set('X-API-Key', apiKey);
    expect(viaKey.body.key.id).to.equal(key.id);
    expect(viaKey.body).not.to.have.property('token');
  });
});
