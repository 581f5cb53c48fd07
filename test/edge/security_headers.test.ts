import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';
import { serveWithRoutes, type MountedApp } from '../ratelimit/support.js';

describe('security headers', () => {
  let app: TestApp;
  let mounted: MountedApp;
  let cspSeenWhileRendering: string | undefined;
  let cspSeenOnApiPath: string | undefined;

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
      // A JSON API path (the CORS paths) that answers HTML after all: no policy was prepared for it.
      router.get('/auth/sessions/page', async function apiPage(ctx) {
        cspSeenOnApiPath = ctx.response.get('Content-Security-Policy');
        ctx.body = `<!DOCTYPE html><html><head><script nonce="${ctx.state.cspNonce}">1</script></head><body>hi</body></html>`;
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

  it('prepares no page policy on the JSON APIs (token endpoint, /auth/*), and answers their errors without one', async () => {
    const token = await app.http().post('/oauth/token').type('form').send({ grant_type: 'client_credentials' }).auth('nobody', 'wrong');
    expect(token.status).to.equal(401);
    expectBaseline(token.headers);
    expect(token.headers['content-security-policy']).to.equal(undefined);
    const login = await app.http().post('/auth/login').send({ api_key: 'ak_test_nope' });
    expect(login.status).to.be.within(400, 499);
    expectBaseline(login.headers);
    expect(login.headers['content-security-policy']).to.equal(undefined);
  });

  it('still gives an HTML answer on a JSON API path a page policy, whose nonce nothing on the page carries', async () => {
    const res = await mounted.http().get('/auth/sessions/page').expect(200);
    expect(cspSeenOnApiPath).to.equal(undefined);
    expectBaseline(res.headers);
    const csp = res.headers['content-security-policy']!;
    expect(csp).to.match(/^default-src 'self'; script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).to.include("frame-ancestors 'none'");
    expect(res.text).to.include('nonce="undefined"');
  });
});

