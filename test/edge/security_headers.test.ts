import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';
import { serveWithRoutes, type MountedApp } from '../ratelimit/support.js';

describe('security headers', () => {
  let app: TestApp;
  let mounted: MountedApp;
  let cspSeenWhileRendering: string | undefined;

  before(async () => {
    app = await startTestApp();
    mounted = await serveWithRoutes(app.services, (router) => {
      router.get('/page', async function page(ctx) {
        // What oidc-provider's form_post does: read the policy before rendering and add its hash.
        cspSeenWhileRendering = ctx.response.get('Content-Security-Policy');
        ctx.body = `<!DOCTYPE html><html><head><script nonce="${ctx.state.cspNonce}">1</script></head><body>hi</body></html>`;
      });
      router.get('/data', async function data(ctx) {
        ctx.body = { ok: true };
      });
    });
  });
  after(async () => {
    await mounted.close();
    await app.close();
  });

  function expectBaseline(headers: Record<string, string>): void {
    expect(headers['x-content-type-options']).to.equal('nosniff');
    expect(headers['x-frame-options']).to.equal('DENY');
    expect(headers['referrer-policy']).to.equal('no-referrer');
  }

  it('puts nosniff, no framing and no referrer on every response, errors included, and no page CSP on JSON', async () => {
    for (const res of [await app.http().get('/healthz').expect(200), await app.http().get('/nope').expect(404), await mounted.http().get('/data').expect(200)]) {
      expectBaseline(res.headers);
      expect(res.headers['content-security-policy']).to.equal(undefined);
    }
    const malformed = await app.http().post('/nope').set('Content-Type', 'application/json').send('{');
    expect(malformed.status).to.equal(400);
    expectBaseline(malformed.headers);
  });

  it('gives HTML pages a strict Content-Security-Policy with a fresh nonce per response', async () => {
    const first = await mounted.http().get('/page').expect(200);
    const second = await mounted.http().get('/page').expect(200);
    expectBaseline(first.headers);
    const csp = first.headers['content-security-policy']!;
    const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).to.be.a('string');
    expect(first.text).to.include(`nonce="${nonce}"`);
    expect(csp).to.include("default-src 'self'");
    expect(csp).to.include(`script-src 'self' 'nonce-${nonce}'`);
    expect(csp).to.include("frame-ancestors 'none'");
    expect(csp).to.include("object-src 'none'");
    expect(csp).to.include("base-uri 'none'");
    expect(csp).not.to.include('unsafe-eval');
    expect(csp).not.to.match(/script-src[^;]*unsafe-inline/);
    expect(second.headers['content-security-policy']).not.to.equal(csp);
  });

  it('sets the page policy before the response is rendered, so the provider can add its script hashes', async () => {
    await mounted.http().get('/page').expect(200);
    expect(cspSeenWhileRendering).to.match(/script-src 'self' 'nonce-/);
  });
});
