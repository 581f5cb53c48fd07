import { expect } from 'chai';
import { createHmac, createPublicKey } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { isLowS } from '../../src/oidc/ecdsa_low_s.js';
import { adminCaller, callerWith, claimsOf, signWithServerKey, withLowS } from '../admin/support.js';
import { postForm, registerClient, startOidcApp, type RegisteredClient } from '../oidc/support.js';
import type { TestApp } from '../support/app.js';

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** P-256's group order: (r, n − s) verifies whenever (r, s) does. */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** The other valid signature of a token: s replaced by n − s. */
function malleated(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
  Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex').copy(bytes, 32);
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}

/** The same bytes, written with a non-zero unused bit in the last character of the signature. */
function nonCanonicalTail(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = token[token.length - 1]!;
  const twin = `${token.slice(0, -1)}${alphabet[alphabet.indexOf(last) | 1]}`;
  expect(Buffer.from(twin.split('.')[2]!, 'base64url').equals(Buffer.from(token.split('.')[2]!, 'base64url')), 'decodes to the same signature').to.equal(true);
  return twin;
}

/**
 * Audit LOW: ES256 verification accepted a high-S twin of a valid signature and base64url tails
 * with non-zero unused bits — a second string for the same token. Keyport now signs only low-S
 * and accepts only the canonical string. The negative cases below are checked at each place
 * that accepts Keyport access tokens: introspection, /auth/test and the admin API.
 */
describe('security: JWS verification accepts exactly what Keyport signs', () => {
  let app: TestApp;
  let introspector: RegisteredClient;
  let token: string;
  before(async () => {
    app = await startOidcApp();
    introspector = await registerClient(app, { name: 'resource server', grantTypes: ['client_credentials'], scopes: ['read'] });
    token = (await adminCaller(app)).token;
  });
  after(async () => { await app.close(); });

  /** How each door answers a token: introspection's `active`, and the statuses of /auth/test and /admin/agents. */
  async function doors(candidate: string): Promise<{ introspection: boolean; authTest: number; admin: number }> {
    const introspection = await postForm(app, '/oauth/introspect', { token: candidate }, introspector);
    expect(introspection.status, introspection.text).to.equal(200);
    const authTest = await app.http().get('/auth/test').set('Authorization', `Bearer ${candidate}`);
    const admin = await callerWith(app, candidate).get('/admin/agents');
    for (const res of [authTest, admin]) {
      if (res.status === 401) expect(res.body.error.code).to.equal('invalid_token');
    }
    return { introspection: introspection.body.active === true, authTest: authTest.status, admin: admin.status };
  }

  const REFUSED = { introspection: false, authTest: 401, admin: 401 };

  it('accepts the real token and one signed the same way by the server key (controls)', async () => {
    expect(await doors(token)).to.deep.equal({ introspection: true, authTest: 200, admin: 200 });
    const claims = claimsOf(token);
    expect(await doors(await signWithServerKey(app, { ...claims, jti: `${claims.jti}-copy` }))).to.deep.equal({ introspection: true, authTest: 200, admin: 200 });
  });

  it('refuses the high-S twin of a valid signature', async () => {
    const twin = malleated(token);
    expect(twin).not.to.equal(token);
    expect(await doors(twin)).to.deep.equal(REFUSED);
  });

  it('refuses a base64url segment with non-zero unused bits (the same bytes, another string)', async () => {
    expect(await doors(nonCanonicalTail(token))).to.deep.equal(REFUSED);
  });

  it('refuses alg none, with and without a signature segment', async () => {
    const [header, payload] = token.split('.') as [string, string];
    const none = b64({ ...JSON.parse(Buffer.from(header, 'base64url').toString()), alg: 'none' });
    expect(await doors(`${none}.${payload}.`)).to.deep.equal(REFUSED);
    expect(await doors(`${none}.${payload}.AAAA`)).to.deep.equal(REFUSED);
  });

  it('refuses HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
    const jwks = (await app.http().get('/oauth/jwks').expect(200)).body as { keys: Array<Record<string, unknown>> };
    const publicJwk = jwks.keys[0]!;
    const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const payload = token.split('.')[1]!;
    for (const secret of [JSON.stringify(publicJwk), pem, String(publicJwk.x)]) {
      const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: publicJwk.kid });
      const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      expect(await doors(`${header}.${payload}.${signature}`)).to.deep.equal(REFUSED);
    }
  });

  it('refuses crit, jku, x5u, jwk and x5c headers even on a token the server key signed', async () => {
    const claims = claimsOf(token);
    for (const [index, extra] of [
      { crit: ['exp'] },
      { jku: 'https://attacker.example/jwks' },
      { x5u: 'https://attacker.example/cert.pem' },
      { jwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } },
      { x5c: ['MIIB'] },
    ].entries()) {
      const forged = await signWithServerKey(app, { ...claims, jti: `${claims.jti}-h${index}` }, extra);
      expect(await doors(forged), JSON.stringify(extra)).to.deep.equal(REFUSED);
    }
  });

  it('refuses an unknown kid, and a foreign key named by jku or embedded as jwk', async () => {
    const claims = claimsOf(token);
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const attackerJwk = await exportJWK(publicKey);
    const realKid = app.services.oidc.host.keyRing.signingKid;
    const sign = async (header: Record<string, unknown>, jti: string) => withLowS(await new SignJWT({ ...claims, jti }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header } as never).sign(privateKey));
    expect(await doors(await sign({ kid: 'attacker-1' }, 'k1'))).to.deep.equal(REFUSED);
    expect(await doors(await sign({ kid: 'attacker-1', jku: 'https://attacker.example/jwks' }, 'k2'))).to.deep.equal(REFUSED);
    expect(await doors(await sign({ kid: realKid, jwk: attackerJwk }, 'k3'))).to.deep.equal(REFUSED);
    expect(await doors(await sign({ kid: realKid }, 'k4'))).to.deep.equal(REFUSED);
  });

  it('signs every token low-S (the engine signs through Keyport\'s key: fails if an upgrade bypasses it)', async () => {
    const admin = await adminCaller(app);
    const tokens = await Promise.all(Array.from({ length: 40 }, () => app.http().post('/oauth/token').type('form').auth(admin.client.id, admin.client.secret)
      .send({ grant_type: 'client_credentials', scope: 'admin' }).then((res) => res.body.access_token as string)));
    const highS = tokens.filter((issued) => !isLowS(Buffer.from(issued.split('.')[2]!, 'base64url')));
    expect(highS, 'tokens with a high-S signature (about half would be, signed without the low-S key)').to.have.length(0);
    // The published key still verifies them with any standard library.
    const jwks = (await app.http().get('/oauth/jwks').expect(200)).body as { keys: Array<{ kid: string; alg: string; use: string }> };
    expect(jwks.keys.map((key) => key.kid)).to.include(app.services.oidc.host.keyRing.signingKid);
    expect(jwks.keys.every((key) => key.alg === 'ES256' && key.use === 'sig' && !('d' in key))).to.equal(true);
  });
});
