import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { client, expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';
import { DEVICE_GRANT, enterCode, xsrfOf } from './support.js';

/**
 * Guessing in the device flow: user codes on the verification page are limited per address
 * (RATE_LIMIT_USER_CODE_PER_IP) and a wrong one stores nothing; a guessed device code at the token
 * endpoint is a plain `invalid_grant`, nothing stored either. Forms without the engine's xsrf token
 * are refused, and what a person types is shown back escaped.
 */
describe('oidc: device authorization grant, guessing and forged forms', () => {
  let app: TestApp;
  let device: RegisteredClient;

  before(async () => {
    app = await startOidcApp({ env: { RATE_LIMIT_USER_CODE_PER_IP: '3' } });
    device = await registerClient(app, { name: 'Guessing CLI', grantTypes: ['device_code'], public: true, scopes: ['read'] });
  });
  after(async () => { await app.close(); });

  async function rowsByModel(): Promise<Record<string, number>> {
    const rows = await app.services.database.dataSource.query('SELECT model, COUNT(*) AS n FROM oidc_payloads GROUP BY model') as Array<{ model: string; n: number | string }>;
    return Object.fromEntries(rows.map((row) => [row.model, Number(row.n)]));
  }

  it('device-code brute force at the token endpoint: invalid_grant every time, nothing stored', async () => {
    const before = await rowsByModel();
    for (let i = 0; i < 25; i += 1) {
      const guess = randomBytes(32).toString('base64url').slice(0, 43);
      const res = await postForm(app, '/oauth/token', { grant_type: DEVICE_GRANT, device_code: guess, client_id: device.id });
      expectOAuthError(res, 'invalid_grant', 400);
    }
    expectOAuthError(await postForm(app, '/oauth/token', { grant_type: DEVICE_GRANT, client_id: device.id }), 'invalid_request', 400);
    expectOAuthError(await postForm(app, '/oauth/token', { grant_type: DEVICE_GRANT, device_code: 'x'.repeat(5000), client_id: device.id }), 'invalid_grant', 400);
    expect(await rowsByModel()).to.deep.equal(before);
  });

  it('user-code guessing on the page: wrong codes change nothing, and the address gets 429 after the limit', async () => {
    const config = await client.discovery(new URL(app.config.issuer), device.id, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const real = await client.initiateDeviceAuthorization(config, { scope: 'read' });
    const agent = app.http();
    const page = await agent.get('/oauth/device').expect(200);
    // Each answer carries a new xsrf secret (the engine renews it on every refusal).
    let xsrf = xsrfOf(page.text);
    const before = await rowsByModel();
    for (const guess of ['BCDF-GHJK', 'ZZZZ-ZZZZ', '<script>alert(1)</script>']) {
      const res = await agent.post('/oauth/device').type('form').send({ xsrf, user_code: guess });
      expect(res.status, guess).to.equal(400);
      expect(res.text).to.include('That code is not valid');
      expect(res.text).not.to.include('<script>alert(1)');
      xsrf = xsrfOf(res.text);
    }
    expect(await rowsByModel(), 'a wrong code stores nothing').to.deep.equal(before);

    const refused = await agent.post('/oauth/device').type('form').send({ xsrf, user_code: 'BCDF-GHJK' });
    expect(refused.status).to.equal(429);
    expect(Number(refused.headers['retry-after'])).to.be.above(0);
    expect(refused.text).to.include('Too many codes');
    // Even the right code waits for the window: the limit is per address, before any lookup.
    const right = await agent.post('/oauth/device').type('form').send({ xsrf, user_code: real.user_code });
    expect(right.status).to.equal(429);
    expect(await rowsByModel()).to.deep.equal(before);
  });

  it('a form without the engine\'s xsrf token is refused and the code stays unused', async () => {
    const other = await startOidcApp();
    try {
      const cli = await registerClient(other, { name: 'CSRF CLI', grantTypes: ['device_code'], public: true, scopes: ['read'] });
      const config = await client.discovery(new URL(other.config.issuer), cli.id, undefined, client.None(), { execute: [client.allowInsecureRequests] });
      const started = await client.initiateDeviceAuthorization(config, { scope: 'read' });
      const forged = await other.http().post('/oauth/device').type('form').send({ user_code: started.user_code, confirm: 'yes' });
      expect(forged.status).to.equal(400);
      for (const path of ['/oauth/device/unknown-uid', '/oauth/device/%20']) {
        const resume = await other.http().get(path);
        expect(resume.status, path).to.equal(400);
        expect(resume.text, path).to.include('The form expired');
      }
      expect(forged.text).not.to.include('Device connected');
      // The code still works for its owner.
      const confirmation = await enterCode(other.http(), started.user_code);
      expect(confirmation.status).to.equal(200);
      expect(confirmation.text).to.include('CSRF CLI');
    } finally {
      await other.close();
    }
  });
});
