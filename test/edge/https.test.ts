import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';

function expectInsecure(res: { status: number; body: unknown; headers: Record<string, string> }): void {
  expect(res.status).to.equal(403);
  expect(res.body).to.have.nested.property('error.code', 'insecure_connection');
  expect(res.body).to.have.nested.property('error.request_id', res.headers['x-request-id']);
  expect(res.headers['strict-transport-security']).to.equal(undefined);
}

describe('REQUIRE_HTTPS', () => {
  describe('without a trusted proxy', () => {
    let app: TestApp;
    before(async () => { app = await startTestApp({ env: { REQUIRE_HTTPS: 'true' } }); });
    after(async () => { await app.close(); });

    it('refuses plain-HTTP requests with 403 insecure_connection', async () => {
      expectInsecure(await app.http().get('/auth/test'));
      expectInsecure(await app.http().get('/oauth/token'));
      expectInsecure(await app.http().get('/.well-known/openid-configuration'));
    });

    it('refuses before reading the body: a malformed or oversize body still gets 403', async () => {
      expectInsecure(await app.http().post('/auth/login').set('Content-Type', 'application/json').send('{"api_key": '));
      expectInsecure(await app.http().post('/auth/login').set('Content-Type', 'application/json').send(JSON.stringify({ pad: 'x'.repeat(100_000) })));
    });

    it('ignores X-Forwarded-Proto from an untrusted caller', async () => {
      expectInsecure(await app.http().get('/auth/test').set('X-Forwarded-Proto', 'https'));
    });

    it('keeps the probes and the metrics reachable over plain HTTP', async () => {
      await app.http().get('/healthz').expect(200);
      await app.http().get('/readyz').expect(200);
      await app.http().get('/metrics').expect(200);
      // Only those exact paths.
      expectInsecure(await app.http().get('/healthz/../auth/test'));
      expectInsecure(await app.http().get('/healthzz'));
    });
  });

  describe('behind a trusted proxy (TRUST_PROXY=true)', () => {
    let app: TestApp;
    before(async () => { app = await startTestApp({ env: { REQUIRE_HTTPS: 'true', TRUST_PROXY: 'true' } }); });
    after(async () => { await app.close(); });

    it('accepts requests the proxy received over HTTPS, and sends HSTS', async () => {
      const res = await app.http().get('/no/such/route').set('X-Forwarded-Proto', 'https');
      expect(res.status).to.equal(404);
      expect(res.body.error.code).to.equal('not_found');
      expect(res.headers['strict-transport-security']).to.equal('max-age=63072000; includeSubDomains');
    });

    it('refuses requests the proxy received over plain HTTP, or without the header', async () => {
      expectInsecure(await app.http().get('/no/such/route').set('X-Forwarded-Proto', 'http'));
      expectInsecure(await app.http().get('/no/such/route'));
    });
  });

  describe('off (the default outside production)', () => {
    let app: TestApp;
    before(async () => { app = await startTestApp(); });
    after(async () => { await app.close(); });

    it('serves plain HTTP and sends no HSTS there', async () => {
      const res = await app.http().get('/no/such/route').expect(404);
      expect(res.headers['strict-transport-security']).to.equal(undefined);
    });

    it('does not trust X-Forwarded-Proto for HSTS either', async () => {
      const res = await app.http().get('/healthz').set('X-Forwarded-Proto', 'https').expect(200);
      expect(res.headers['strict-transport-security']).to.equal(undefined);
    });
  });
});

describe('client address behind proxies (TRUST_PROXY, TRUST_PROXY_HOPS)', () => {
  async function addressSeen(env: Record<string, string>, forwardedFor: string | undefined): Promise<string> {
    const app = await startTestApp({ env });
    try {
      const request = app.http().get('/healthz');
      if (forwardedFor) request.set('X-Forwarded-For', forwardedFor);
      const res = await request.expect(200);
      const line = app.logs.map((entry) => JSON.parse(entry)).find((entry) => entry.request_id === res.headers['x-request-id']);
      return line.ip;
    } finally {
      await app.close();
    }
  }

  it('ignores X-Forwarded-For unless the proxy is trusted', async () => {
    expect(await addressSeen({}, '203.0.113.9')).to.match(/127\.0\.0\.1$/);
  });

  it('takes the entry the trusted proxy appended, not one the caller forged', async () => {
    expect(await addressSeen({ TRUST_PROXY: 'true' }, '6.6.6.6, 203.0.113.9')).to.equal('203.0.113.9');
  });

  it('counts several proxy hops from the right', async () => {
    expect(await addressSeen({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' }, '6.6.6.6, 203.0.113.9, 10.0.0.2')).to.equal('203.0.113.9');
  });
});
