import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';

/** docs/reference.md §4 body shape. */
function expectErrorBody(body: unknown, code: string): void {
  expect(body).to.have.nested.property('error.code', code);
  expect(body).to.have.nested.property('error.message').that.is.a('string').and.not.empty;
  expect(body).to.have.nested.property('error.request_id').that.matches(/^req_|^[A-Za-z0-9._:-]{8,64}$/);
  expect(JSON.stringify(body)).not.to.match(/at .*\.js:\d+|stack|node_modules/);
}

describe('HTTP skeleton', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('serves /healthz and /readyz', async () => {
    const health = await app.http().get('/healthz').expect(200);
    expect(health.body).to.deep.equal({ status: 'ok' });
    const ready = await app.http().get('/readyz').expect(200);
    expect(ready.body).to.deep.equal({ status: 'ready', checks: { database: 'ok' } });
  });

  it('puts a request ID on every response and keeps a sane incoming one', async () => {
    const generated = await app.http().get('/healthz');
    expect(generated.headers['x-request-id']).to.match(/^req_[A-Za-z0-9]{20}$/);
    const kept = await app.http().get('/healthz').set('X-Request-Id', 'trace-12345678');
    expect(kept.headers['x-request-id']).to.equal('trace-12345678');
    const replaced = await app.http().get('/healthz').set('X-Request-Id', '<script>alert(1)</script>');
    expect(replaced.headers['x-request-id']).to.match(/^req_/);
  });

  it('answers an unknown route with a 404 in the reference §4 error body', async () => {
    const res = await app.http().get('/no/such/route').expect(404);
    expectErrorBody(res.body, 'not_found');
    expect(res.body.error.request_id).to.equal(res.headers['x-request-id']);
  });

  it('answers malformed JSON with 400 invalid_request', async () => {
    const res = await app.http().post('/no/such/route').set('Content-Type', 'application/json').send('{"api_key": ');
    expect(res.status).to.equal(400);
    expectErrorBody(res.body, 'invalid_request');
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const res = await app.http().post('/healthz').set('Content-Type', 'application/json').send('[1,2,3]');
    expect(res.status).to.equal(400);
    expectErrorBody(res.body, 'invalid_request');
  });

  it('answers an oversize body with 413 payload_too_large', async () => {
    const res = await app.http().post('/healthz').set('Content-Type', 'application/json').send(JSON.stringify({ pad: 'x'.repeat(200_000) }));
    expect(res.status).to.equal(413);
    expectErrorBody(res.body, 'payload_too_large');
  });

  it('answers a body of an unsupported type with 415', async () => {
    const res = await app.http().post('/healthz').set('Content-Type', 'text/xml').send('<a/>');
    expect(res.status).to.equal(415);
    expectErrorBody(res.body, 'unsupported_media_type');
  });

  it('exposes Prometheus metrics by route template', async () => {
    await app.http().get('/healthz');
    const res = await app.http().get('/metrics').expect(200);
    expect(res.headers['content-type']).to.match(/^text\/plain/);
    expect(res.text).to.match(/keyport_http_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/);
    expect(res.text).to.include('keyport_http_request_duration_seconds_bucket');
    expect(res.text).not.to.include('/no/such/route');
  });
});

describe('readiness when the database is down', () => {
  it('reports 503 from /readyz and keeps /healthz at 200', async () => {
    const app = await startTestApp();
    try {
      await app.services.database.dataSource.destroy();
      const ready = await app.http().get('/readyz');
      expect(ready.status).to.equal(503);
      expect(ready.body).to.have.nested.property('error.code', 'service_unavailable');
      expect(ready.body.checks).to.deep.equal({ database: 'unreachable' });
      await app.http().get('/healthz').expect(200);
    } finally {
      await app.close();
    }
  });
});
