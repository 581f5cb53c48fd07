import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import { OPENAPI_DOCUMENT_PATH, RENDERER_PATH } from '../../src/http/routes/api_docs.js';
import { startTestApp, type TestApp } from '../support/app.js';

/** `GET /openapi.json` and `GET /docs` (docs/reference.md §11): what is served, how it is cached, how it refuses. */
describe('documentation endpoints: serving', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('serves the committed docs/openapi.json as JSON with a strong ETag and a cache lifetime', async () => {
    const res = await app.http().get('/openapi.json').expect(200);
    expect(res.headers['content-type']).to.equal('application/json; charset=utf-8');
    expect(res.body).to.deep.equal(JSON.parse(readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8')));
    expect(res.body.openapi).to.match(/^3\.1\./);
    expect(res.headers.etag).to.match(/^"[A-Za-z0-9_-]{43}"$/);
    expect(res.headers['cache-control']).to.equal('public, max-age=3600');
    expect(res.headers['x-request-id']).to.match(/^req_/);
    // A JSON document: no page policy, and not open to other origins.
    expect(res.headers['content-security-policy']).to.equal(undefined);
    const cross = await app.http().get('/openapi.json').set('Origin', 'https://elsewhere.example').expect(200);
    expect(cross.headers['access-control-allow-origin']).to.equal(undefined);
    // No rate-limit accounting: it is not an API-key route.
    expect(res.headers['x-ratelimit-limit']).to.equal(undefined);
  });

  it('answers 304 to a matching If-None-Match, and the full document to a stale one', async () => {
    const first = await app.http().get('/openapi.json').expect(200);
    const again = await app.http().get('/openapi.json').set('If-None-Match', first.headers.etag!).expect(304);
    expect(again.text ?? '').to.equal('');
    expect(again.headers.etag).to.equal(first.headers.etag);
    await app.http().get('/openapi.json').set('If-None-Match', '"stale"').expect(200);
  });

  it('answers HEAD with the headers only', async () => {
    const res = await app.http().head('/openapi.json').expect(200);
    expect(res.headers['content-type']).to.equal('application/json; charset=utf-8');
    expect(res.headers.etag).to.match(/^"/);
  });

  it('refuses other methods with 405 and Allow in the reference §4 body', async () => {
    for (const [method, path] of [['post', '/openapi.json'], ['put', '/openapi.json'], ['delete', '/docs'], ['post', RENDERER_PATH]] as const) {
      const res = await app.http()[method](path).set('Content-Type', 'application/json').send('{}');
      expect(res.status, `${method} ${path}`).to.equal(405);
      expect(res.headers.allow).to.equal('HEAD, GET');
      expect(res.body.error).to.include({ code: 'method_not_allowed' });
      expect(res.body.error.request_id).to.equal(res.headers['x-request-id']);
      expect(res.headers['cache-control']).to.equal('no-store');
    }
    const options = await app.http().options('/openapi.json').expect(204);
    expect(options.headers.allow).to.equal('HEAD, GET');
  });

  it('keeps unknown paths under /docs and near /openapi.json at 404', async () => {
    for (const path of ['/docs/other.js', '/openapi.yaml', '/openapi.json/x', '/docs/..%2f..%2fpackage.json']) {
      const res = await app.http().get(path);
      expect(res.status, path).to.be.oneOf([400, 404]);
      expect(res.body.error.code, path).to.be.oneOf(['not_found', 'invalid_request']);
    }
  });

  it('serves /docs as an HTML page under the page CSP, its scripts carrying the nonce', async () => {
    const first = await app.http().get('/docs').expect(200);
    const second = await app.http().get('/docs').expect(200);
    expect(first.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(first.headers['cache-control']).to.equal('no-store');
    const csp = first.headers['content-security-policy']!;
    const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).to.be.a('string');
    expect(csp).to.include("default-src 'self'");
    expect(csp).to.include(`script-src 'self' 'nonce-${nonce}'`);
    expect(csp).not.to.match(/unsafe-eval|blob:|https?:/);
    expect(second.headers['content-security-policy']).not.to.equal(csp);
    const scripts = [...first.text.matchAll(/<script\b([^>]*)>/g)].map((match) => match[1]!);
    expect(scripts).to.have.length(2);
    for (const attributes of scripts) expect(attributes).to.include(`nonce="${nonce}"`);
    expect(first.text).to.include(`src="${RENDERER_PATH}"`);
    // Nothing from anywhere else: no CDN script, no stylesheet or font link.
    expect(first.text).not.to.match(/https?:\/\//);
    expect(first.text).not.to.match(/<link\b/);
    expect(first.headers['x-frame-options']).to.equal('DENY');
  });

  it('serves the renderer from the installed npm package, with a strong ETag', async () => {
    const res = await app.http().get(RENDERER_PATH).buffer(true).parse((response, done) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => done(null, Buffer.concat(chunks)));
    }).expect(200);
    expect(res.headers['content-type']).to.equal('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).to.equal('public, max-age=3600');
    const installed = readFileSync(createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js'));
    expect((res.body as Buffer).equals(installed)).to.equal(true);
    await app.http().get(RENDERER_PATH).set('If-None-Match', res.headers.etag!).expect(304);
  });
});
