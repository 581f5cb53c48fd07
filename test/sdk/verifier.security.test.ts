import { expect } from 'chai';
import { SignJWT, generateKeyPair, UnsecuredJWT } from 'jose';
import { createVerifier, type AuthOutcome, type KeyportVerifier } from '@keyport/verify';
import { freePort } from '../support/app.js';
import { agentWithKey, claimsOf, keyportRequests, login, signWithServerKey, startKeyport, type KeyportFixture } from './support.js';

const API = 'https://orders.example.com';

function refused(outcome: AuthOutcome): Extract<AuthOutcome, { ok: false }> {
  expect(outcome.ok, 'refused').to.equal(false);
  return outcome as Extract<AuthOutcome, { ok: false }>;
}

/**
 * The framework-free core against a real Keyport: everything a hostile or confused caller can put
 * in the Authorization header is refused with 401 invalid_token (or the no-credentials 401), and
 * nothing of the token leaks into the answer.
 */
describe('resource-server kit: verifier, hostile and odd tokens', () => {
  let fx: KeyportFixture;
  let verifier: KeyportVerifier;
  let agentToken: string;
  let refreshToken: string;
  let apiKey: string;
  before(async () => {
    fx = await startKeyport();
    verifier = createVerifier({
      issuer: fx.app.config.issuer, resource: API, audience: [API, fx.app.config.issuer],
      introspection: { clientId: fx.apiClient.id, clientSecret: fx.apiClient.secret!, cacheSeconds: 0 },
    });
    ({ apiKey } = await agentWithKey(fx.app, ['read']));
    const answer = await login(fx.app, apiKey, 'security');
    agentToken = answer.access_token;
    refreshToken = answer.refresh_token;
  });
  after(async () => { await fx?.app.close(); });

  async function expectInvalidToken(authorization: string | undefined, description: RegExp): Promise<void> {
    const outcome = refused(await verifier.authenticate(authorization, ['read']));
    expect(outcome.status).to.equal(401);
    expect(outcome.body.error).to.equal('invalid_token');
    expect(outcome.body.error_description).to.match(description);
    expect(outcome.headers['www-authenticate']).to.match(/^Bearer error="invalid_token", error_description="[^"]+", scope="read", resource_metadata="https:\/\/orders\.example\.com\/\.well-known\/oauth-protected-resource"$/);
    const token = authorization?.replace(/^\S+\s*/, '');
    if (token) expect(JSON.stringify(outcome), 'the token is not echoed').not.to.include(token);
  }

  it('accepts the genuine token (the baseline the others differ from)', async () => {
    const outcome = await verifier.authenticate(`Bearer ${agentToken}`, ['read']);
    expect(outcome.ok).to.equal(true);
  });

  it('treats another scheme or an empty header as no credentials', async () => {
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', `DPoP ${agentToken}`]) {
      const outcome = refused(await verifier.authenticate(header, ['read']));
      expect(outcome.status, String(header)).to.equal(401);
      expect(outcome.body.error).to.equal('unauthorized');
      expect(outcome.headers['www-authenticate']).to.equal(`Bearer scope="read", resource_metadata="${API}/.well-known/oauth-protected-resource"`);
    }
  });

  it('refuses malformed bearer credentials', async () => {
    await expectInvalidToken('Bearer', /malformed: the Bearer credential is empty/);
    await expectInvalidToken('Bearer two tokens', /malformed/);
    await expectInvalidToken('Bearer abc"def', /malformed/);
    await expectInvalidToken(`Bearer ${'a'.repeat(9000)}`, /too long/);
    await expectInvalidToken('Bearer a.b.c', /malformed/);
  });

  it('refuses an API key presented as a bearer token, and never sends it to introspection', async () => {
    const before = keyportRequests(fx.app, '/oauth/introspect');
    await expectInvalidToken(`Bearer ${apiKey}`, /API keys are not accepted here: exchange the key .*POST \/auth\/login/);
    expect(keyportRequests(fx.app, '/oauth/introspect')).to.equal(before);
  });

  it('refuses a refresh token presented as an access token (introspection knows it, but it is no access token)', async () => {
    await expectInvalidToken(`Bearer ${refreshToken}`, /not an access token/);
  });

  it('refuses a JWT that is not an access token (typ), from another issuer, or without a required claim', async () => {
    const claims = claimsOf(agentToken);
    await expectInvalidToken(`Bearer ${await signWithServerKey(fx.app, claims, { typ: 'JWT' })}`, /typ must be at\+jwt/);
    await expectInvalidToken(`Bearer ${await signWithServerKey(fx.app, { ...claims, iss: 'https://evil.example.com' })}`, /issuer/);
    const { jti: _jti, ...withoutJti } = claims;
    await expectInvalidToken(`Bearer ${await signWithServerKey(fx.app, withoutJti)}`, /jti/);
  });

  it('refuses a DPoP-bound token presented as a bearer token (RFC 9449 §7.2)', async () => {
    const bound = await signWithServerKey(fx.app, { ...claimsOf(agentToken), cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } });
    await expectInvalidToken(`Bearer ${bound}`, /bound to a key \(DPoP\)/);
  });

  it('refuses unsigned tokens, symmetric signatures and tampered payloads', async () => {
    const claims = claimsOf(agentToken);
    const unsigned = new UnsecuredJWT(claims).encode();
    await expectInvalidToken(`Bearer ${unsigned.replace(/\.$/, '.c2ln')}`, /algorithm|malformed|signature/);
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new TextEncoder().encode('x'.repeat(32)));
    await expectInvalidToken(`Bearer ${hs}`, /algorithm/);
    const [header, , signature] = agentToken.split('.');
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'read write admin' })).toString('base64url');
    await expectInvalidToken(`Bearer ${header}.${widened}.${signature}`, /signature is invalid/);
  });

  it('refuses a token signed by a key Keyport does not publish, fetching the JWKS at most once per cool-down', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forge = (kid: string): Promise<string> => new SignJWT(claimsOf(agentToken)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey);
    const before = keyportRequests(fx.app, '/oauth/jwks');
    await expectInvalidToken(`Bearer ${await forge('made-up-1')}`, /signed by a key Keyport does not publish/);
    expect(keyportRequests(fx.app, '/oauth/jwks') - before, 'an unknown kid reloads the set once').to.equal(1);
    for (let i = 2; i < 12; i += 1) await expectInvalidToken(`Bearer ${await forge(`made-up-${i}`)}`, /does not publish/);
    expect(keyportRequests(fx.app, '/oauth/jwks') - before, 'ten more made-up kids within the cool-down: no more fetches').to.equal(1);
  });

  it('refuses an opaque token when the API does not introspect', async () => {
    const local = createVerifier({ issuer: fx.app.config.issuer, resource: API });
    const outcome = refused(await local.authenticate(`Bearer ${refreshToken}`));
    expect(outcome.status).to.equal(401);
    expect(outcome.body.error_description).to.match(/not a JWT, and this API does not introspect/);
  });

  it('answers 503 with Retry-After (not 401) while Keyport cannot be reached for its keys', async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const errors: Error[] = [];
    const cut = createVerifier({ issuer: fx.app.config.issuer, resource: API, audience: fx.app.config.issuer, jwksUri: `${unreachable}/oauth/jwks`, httpTimeoutMs: 500, onUpstreamError: (error) => errors.push(error) });
    const outcome = refused(await cut.authenticate(`Bearer ${agentToken}`));
    expect(outcome.status).to.equal(503);
    expect(outcome.body.error).to.equal('temporarily_unavailable');
    expect(outcome.headers['retry-after']).to.match(/^\d+$/);
    expect(outcome.headers).not.to.have.property('www-authenticate');
    expect(errors.map((error) => error.message).join()).to.include('unreachable');
  });

  it('checks requirements when a route is declared, not on the first request', () => {
    expect(() => verifier.requirement(['read write'])).to.throw(/invalid scope/);
    expect(() => createVerifier({ issuer: fx.app.config.issuer, resource: API }).requirement({ introspect: true })).to.throw(/needs the introspection option/);
    expect(() => createVerifier({ issuer: 'not a url', resource: API })).to.throw(/issuer must be an absolute URL/);
    expect(() => createVerifier({ issuer: fx.app.config.issuer, resource: `${API}#frag` })).to.throw(/fragment/);
  });
});
