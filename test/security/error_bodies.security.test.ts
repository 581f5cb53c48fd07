import { expect } from 'chai';
import { send } from '../fuzz/support/http.js';
import { agentKey, expectError } from '../exchange/support.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * docs/reference.md §4 error bodies where they were missing (audit LOW): 405 answered in plain text (and an
 * unknown method such as PROPFIND with a plain-text 501, even on paths that do not exist), and
 * 429 carried `retry_after` beside `error` instead of inside it.
 */
describe('security: error bodies of Keyport routes', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp({ env: { RATE_LIMIT_BURST: '2' } }); });
  after(async () => { await app.close(); });

  it('405 method_not_allowed with Allow, in the docs/reference.md §4 body, on every router', async () => {
    const cases: Array<[string, string, string]> = [
      ['POST', '/healthz', 'HEAD, GET'],
      ['DELETE', '/metrics', 'HEAD, GET'],
      ['DELETE', '/auth/login', 'POST'],
      ['GET', '/auth/refresh', 'POST'],
      ['PUT', '/auth/test', 'HEAD, GET, POST'],
      ['POST', '/auth/sessions', 'HEAD, GET'],
      ['PUT', '/interaction/abc', 'HEAD, GET'],
      ['PATCH', '/admin/agents', 'HEAD, GET, POST'],
      ['PROPFIND', '/healthz', 'HEAD, GET'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${app.url}${path}`, { method });
      const body = await res.json() as { error: { code: string; message: string; request_id: string } };
      expect(res.status, `${method} ${path}`).to.equal(405);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.headers.get('allow'), `${method} ${path}`).to.equal(allow);
      expect(body.error.code).to.equal('method_not_allowed');
      expect(body.error.message).to.include(method);
      expect(body.error.request_id).to.equal(res.headers.get('x-request-id'));
    }
  });

  it('an unknown method on an unknown path is 404 not_found, never a plain-text 501', async () => {
    for (const method of ['PROPFIND', 'PURGE', 'MKCOL']) {
      const res = await fetch(`${app.url}/no/such/route`, { method });
      expect(res.status, method).to.equal(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('not_found');
    }
  });

  it('OPTIONS on a Keyport path answers 204 with Allow', async () => {
    const res = await fetch(`${app.url}/auth/test`, { method: 'OPTIONS' });
    expect(res.status).to.equal(204);
    expect(res.headers.get('allow')).to.equal('HEAD, GET, POST');
  });

  it('requests Node refuses before koa (headers over 16 KiB, CONNECT) get the docs/reference.md §4 body with a request ID', async () => {
    const huge = await send(app.url, { method: 'GET', path: `/auth/test?pad=${'x'.repeat(20_000)}`, headers: {} });
    expect(huge.status).to.equal(431);
    const body = JSON.parse(huge.body.toString()) as { error: { code: string; request_id: string } };
    expect(body.error.code).to.equal('headers_too_large');
    expect(body.error.request_id).to.equal(huge.headers['x-request-id']);
    const bigHeader = await send(app.url, { method: 'HEAD', path: '/healthz', headers: { 'X-Pad': 'y'.repeat(20_000) } });
    expect(bigHeader.status).to.equal(431);
    expect(bigHeader.body.length).to.equal(0);
    const connect = await send(app.url, { method: 'CONNECT', path: 'example.com:443', headers: { Host: 'example.com:443' } });
    expect(connect.status).to.equal(405);
    expect((JSON.parse(connect.body.toString()) as { error: { code: string } }).error.code).to.equal('method_not_allowed');
    expect(connect.headers['x-request-id']).to.match(/^req_/);
    await app.http().get('/healthz').expect(200);
  });

  it('429 carries retry_after inside the error object (a top-level copy stays for older clients)', async () => {
    const { apiKey } = await agentKey(app);
    await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
    await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
    const refused = await app.http().get('/auth/test').set('X-API-Key', apiKey);
    expectError(refused, 429, 'rate_limit_exceeded');
    expect(refused.body.error.retry_after).to.be.a('number').within(1, 10);
    expect(refused.headers['retry-after']).to.equal(String(refused.body.error.retry_after));
    expect(Object.keys(refused.body.error)).to.deep.equal(['code', 'message', 'request_id', 'retry_after']);
    expect(refused.body.retry_after).to.equal(refused.body.error.retry_after);
  });
});
