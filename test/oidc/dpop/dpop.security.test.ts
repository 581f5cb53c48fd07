import { expect } from 'chai';
import { agentKey, claimsOf, expectOAuthError } from '../../exchange/support.js';
import { startTestApp, type TestApp } from '../../support/app.js';
import { registerClient, type RegisteredClient } from '../support.js';
import { dpopKey, proof, type DpopKey } from './support.js';

/**
 * DPoP proofs that do not hold are refused with `invalid_dpop_proof` (never a 500, never a token),
 * and a proof is accepted once: replayed on the same instance or on another one sharing the
 * database (also at the same moment), it is refused.
 */
describe('oidc: DPoP proofs that do not hold, replays across instances', () => {
  const ISSUER = 'http://keyport.dpop.test';
  let a: TestApp;
  let b: TestApp;
  let service: RegisteredClient;
  let key: DpopKey;

  before(async () => {
    a = await startTestApp({ env: { ISSUER } });
    b = await startTestApp({ env: { ISSUER }, database: a.database });
    service = await registerClient(a, { name: 'dpop service', grantTypes: ['client_credentials'], scopes: ['read'] });
    key = await dpopKey();
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  /** client_credentials at an instance, as if sent to the shared issuer host (the engine's htu is the request's URL). */
  function tokenRequest(app: TestApp, dpop: string) {
    return app.http().post('/oauth/token').set('Host', new URL(ISSUER).host).type('form').auth(service.id, service.secret!).set('DPoP', dpop).send({ grant_type: 'client_credentials', scope: 'read' });
  }

  function loginWith(app: TestApp, apiKey: string, dpop: string, sessionId = 'dpop-bad') {
    return app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('DPoP', dpop).send({ session_id: sessionId });
  }

  it('/auth/login refuses a bad proof with 400 invalid_dpop_proof and issues nothing', async () => {
    const { apiKey } = await agentKey(a);
    const htu = `${ISSUER}/auth/login`;
    const other = await dpopKey();
    const bad: Array<[string, string]> = [
      ['not a JWT', 'nope'],
      ['wrong method', await proof(key, 'GET', htu)],
      ['wrong URL', await proof(key, 'POST', `${ISSUER}/oauth/token`)],
      ['stale iat', await proof(key, 'POST', htu, { iat: Math.floor(Date.now() / 1000) - 3600 })],
      ['future iat', await proof(key, 'POST', htu, { iat: Math.floor(Date.now() / 1000) + 3600 })],
      ['wrong typ', await proof(key, 'POST', htu, { typ: 'JWT' })],
      ['a nonce (none issued)', await proof(key, 'POST', htu, { extra: { nonce: 'x' } })],
      ['jwk of another key', (await proof(key, 'POST', htu)).replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'dpop+jwt', jwk: other.jwk })).toString('base64url'))],
      ['oversized', 'a'.repeat(5000)],
    ];
    for (const [what, dpop] of bad) {
      const res = await loginWith(a, apiKey, dpop);
      expect(res.status, `${what}: ${res.text}`).to.equal(400);
      expect(res.body.error.code, what).to.equal('invalid_dpop_proof');
      expect(res.body).not.to.have.property('access_token');
      expect(res.text).not.to.match(/at .*\.js:\d+|node_modules/);
    }
    const sessions = await a.http().get('/auth/sessions').set('Authorization', `Bearer ${apiKey}`).expect(200);
    expect(sessions.body.sessions, 'no session was created').to.have.length(0);
  });

  it('/auth/login refuses a replayed proof, on the same instance and on another one', async () => {
    const { apiKey } = await agentKey(a);
    const dpop = await proof(key, 'POST', `${ISSUER}/auth/login`);
    const first = await loginWith(a, apiKey, dpop, 'replay');
    expect(first.status, first.text).to.equal(200);
    expect(claimsOf(first.body.access_token as string).cnf).to.deep.equal({ jkt: key.jkt });
    for (const app of [a, b]) {
      const again = await loginWith(app, apiKey, dpop, 'replay');
      expect(again.status).to.equal(400);
      expect(again.body.error).to.include({ code: 'invalid_dpop_proof', message: 'DPoP proof JWT Replay detected' });
    }
  });

  it('the token endpoint refuses a proof replayed on another instance, also when both arrive at once', async () => {
    const sequential = await proof(key, 'POST', `${ISSUER}/oauth/token`);
    expect((await tokenRequest(a, sequential)).status).to.equal(200);
    expectOAuthError(await tokenRequest(b, sequential), 'invalid_grant', 400);

    for (let round = 0; round < 5; round += 1) {
      const dpop = await proof(key, 'POST', `${ISSUER}/oauth/token`);
      const answers = await Promise.all([tokenRequest(a, dpop), tokenRequest(b, dpop), tokenRequest(a, dpop), tokenRequest(b, dpop)]);
      const statuses = answers.map((res) => res.status).sort();
      expect(statuses, `round ${round}`).to.deep.equal([200, 400, 400, 400]);
      for (const res of answers.filter((r) => r.status !== 200)) expectOAuthError(res, 'invalid_grant');
    }
  });

  it('the token endpoint refuses bad proofs with invalid_dpop_proof, never a 500', async () => {
    const htu = `${ISSUER}/oauth/token`;
    for (const dpop of ['nope', await proof(key, 'GET', htu), await proof(key, 'POST', `${ISSUER}/auth/login`), await proof(key, 'POST', htu, { iat: 1 })]) {
      expectOAuthError(await tokenRequest(a, dpop), 'invalid_dpop_proof', 400);
    }
  });
});
