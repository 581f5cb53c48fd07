import { expect } from 'chai';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import { signWithServerKey } from '../admin/support.js';
import { agentKey, claimsOf, expectError, fixture, login, type ExchangeFixture } from './support.js';

/** GET /auth/test with a bearer token that is not (or no longer) good: 401 invalid_token, never a 500. */
describe('exchange: GET /auth/test refuses bad bearer tokens (401 invalid_token)', () => {
  let fx: ExchangeFixture;
  before(async () => {
    fx = await fixture({ env: { TOKEN_TTL: '60' } });
  });
  after(async () => { await fx.app.close(); });

  const check = (token: string) => fx.app.http().get('/auth/test').set('Authorization', `Bearer ${token}`);

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
    const now = Math.floor(Date.now() / 1000);
    const stale = await signWithServerKey(fx.app, { ...claimsOf(second.body.access_token), iat: now - 120, exp: now - 60 });
    expectError(await check(stale), 401, 'invalid_token');
    const fresh = await signWithServerKey(fx.app, { ...claimsOf(second.body.access_token), jti: 'fresh-copy' });
    expect((await check(fresh)).status, 'the same claims with a valid exp pass: only the expiry refused the other').to.equal(200);
  });

});
