import { expect } from 'chai';
import type { Response } from 'supertest';
import { hiddenValue } from '../dashboard/helpers.js';
import { startTestApp, type TestApp } from '../support/app.js';

function expectInsecure(res: Response): void {
  expect(res.status, res.text.slice(0, 200)).to.equal(403);
  expect(res.body).to.have.nested.property('error.code', 'insecure_connection');
  expect(res.headers['strict-transport-security']).to.equal(undefined);
}

/**
 * Audit LOW: `X-Forwarded-Proto: https, http` passed REQUIRE_HTTPS: koa reads the leftmost value,
 * which the caller wrote when its proxy appends. Keyport believes only what its own proxies
 * appended: the rightmost TRUST_PROXY_HOPS values, like the client address.
 */
describe('security: X-Forwarded-Proto behind proxies that append', () => {
  describe('one trusted proxy (TRUST_PROXY_HOPS=1)', () => {
    let app: TestApp;
    before(async () => { app = await startTestApp({ env: { REQUIRE_HTTPS: 'true', TRUST_PROXY: 'true' } }); });
    after(async () => { await app.close(); });

    it('refuses a request the proxy received over plain HTTP, whatever the caller put in front', async () => {
      expectInsecure(await app.http().get('/auth/test').set('X-Forwarded-Proto', 'https, http'));
      expectInsecure(await app.http().get('/auth/test').set('X-Forwarded-Proto', 'https,http'));
      expectInsecure(await app.http().get('/auth/test').set('X-Forwarded-Proto', 'https, https, http'));
      expectInsecure(await app.http().get('/oauth/token').set('X-Forwarded-Proto', 'https, http'));
    });

    it('accepts what the proxy says it received over HTTPS', async () => {
      const res = await app.http().get('/no/such/route').set('X-Forwarded-Proto', 'http, https');
      expect(res.status).to.equal(404);
      expect(res.headers['strict-transport-security']).to.equal('max-age=63072000; includeSubDomains');
    });

    it('marks cookies Secure only for requests the proxy received over HTTPS', async () => {
      const forged = await app.http().get('/dashboard/login').set('X-Forwarded-Proto', 'https, http');
      expect(forged.status).to.equal(403);
      const real = await app.http().get('/dashboard/login').set('X-Forwarded-Proto', 'https');
      expect(real.status).to.equal(200);
      expect(hiddenValue(real.text, 'csrf')).to.be.a('string');
      expect(String(real.headers['set-cookie'])).to.include('secure');
    });
  });

  describe('two trusted proxies (TRUST_PROXY_HOPS=2: a CDN, then a load balancer)', () => {
    let app: TestApp;
    before(async () => { app = await startTestApp({ env: { REQUIRE_HTTPS: 'true', TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' } }); });
    after(async () => { await app.close(); });

    it('reads what the outer trusted proxy saw, not what the caller wrote', async () => {
      // caller wrote https; the CDN saw http; the load balancer saw https (from the CDN).
      expectInsecure(await app.http().get('/auth/test').set('X-Forwarded-Proto', 'https, http, https'));
      const res = await app.http().get('/no/such/route').set('X-Forwarded-Proto', 'http, https, https');
      expect(res.status).to.equal(404);
    });
  });
});
