import { expect } from 'chai';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Response } from 'supertest';
import { Agent } from '../../src/db/entities/agent.js';
import { adminCaller, type AdminSession } from '../admin/support.js';
import { hiddenValue } from '../dashboard/helpers.js';
import { agentKey, expectError, login } from '../exchange/support.js';
import { startOidcApp } from '../oidc/support.js';
import type { TestApp } from '../support/app.js';

type RawResponse = Pick<Response, 'status' | 'text' | 'body' | 'headers'>;

/**
 * Hostile request bodies and URLs on Keyport's own routes (audit LOW findings): deep nesting
 * (a 500 from class-transformer's recursion), a Content-Encoding the body does not have (a 500
 * from zlib), bytes that are not UTF-8 and undecodable percent-encoding (taken as literal IDs).
 * Each is a 400 invalid_request in the docs/reference.md §4 body, and nothing is written.
 */
describe('security: request bodies and URLs', () => {
  let app: TestApp;
  let admin: AdminSession;
  let apiKey: string;
  let refreshToken: string;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
    apiKey = (await agentKey(app)).apiKey;
    refreshToken = (await login(app, apiKey, { session_id: 'bodies' })).body.refresh_token as string;
  });
  after(async () => { await app.close(); });

  const agentCount = (): Promise<number> => app.services.database.dataSource.getRepository(Agent).count();

  /** A POST with these exact bytes (supertest would serialize a Buffer as JSON). */
  async function postJson(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(`${app.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    const text = await res.text();
    const raw: RawResponse = { status: res.status, text, body: text.startsWith('{') ? JSON.parse(text) : undefined, headers: Object.fromEntries(res.headers) };
    return raw as Response;
  }

  it('answers JSON nested 5000 levels deep with 400 on /auth/login, /auth/refresh, /auth/test and /admin/*', async () => {
    const nested = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const before = await agentCount();
    const cases: Array<[string, Record<string, string>]> = [
      ['/auth/login', { 'X-API-Key': apiKey }],
      ['/auth/refresh', {}],
      ['/auth/test', { 'X-API-Key': apiKey }],
      ['/admin/agents', { Authorization: `Bearer ${admin.token}` }],
      ['/admin/keys', { Authorization: `Bearer ${admin.token}` }],
      ['/admin/clients', { Authorization: `Bearer ${admin.token}` }],
    ];
    for (const [path, headers] of cases) {
      const res = await postJson(path, nested, headers);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, path).to.match(/nests deeper than 16 levels/);
    }
    // Nesting inside a field the DTO knows (rate_limit is an object) is bounded the same way.
    const deepField = `{"name":"deep","rate_limit":${'{"per_minute":'.repeat(40)}1${'}'.repeat(40)}}`;
    expectError(await postJson('/admin/agents', deepField, { Authorization: `Bearer ${admin.token}` }), 400, 'invalid_request');
    expect(await agentCount()).to.equal(before);
  });

  it('answers a Content-Encoding the body does not have with 400, and decodes one it has', async () => {
    const body = JSON.stringify({ session_id: 'gzip-ok' });
    for (const encoding of ['gzip', 'deflate', 'br', 'x-gzip']) {
      const res = await postJson('/auth/login', body, { 'X-API-Key': apiKey, 'Content-Encoding': encoding });
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message).to.include(`not valid ${encoding} data`);
    }
    expectError(await postJson('/admin/agents', '{"name":"x"}', { Authorization: `Bearer ${admin.token}`, 'Content-Encoding': 'gzip' }), 400, 'invalid_request');
    expectError(await postJson('/auth/login', body, { 'X-API-Key': apiKey, 'Content-Encoding': 'compress' }), 415, 'unsupported_media_type');
    for (const [encoding, compressed] of [['gzip', gzipSync(body)], ['deflate', deflateSync(body)], ['br', brotliCompressSync(body)]] as const) {
      const res = await postJson('/auth/login', compressed, { 'X-API-Key': apiKey, 'Content-Encoding': encoding });
      expect(res.status, `${encoding}: ${res.text}`).to.equal(200);
      expect(res.body.session_id).to.equal('gzip-ok');
    }
    // A small body that inflates past the limit (a zip bomb) is 413, without inflating all of it.
    const bomb = gzipSync(Buffer.from(`{"session_id":"${'a'.repeat(10 * 1024 * 1024)}"}`));
    expect(bomb.length).to.be.below(64 * 1024);
    expectError(await postJson('/auth/login', bomb, { 'X-API-Key': apiKey, 'Content-Encoding': 'gzip' }), 413, 'payload_too_large');
  });

  it('refuses bytes that are not UTF-8 and lone surrogates inside JSON strings', async () => {
    const before = await agentCount();
    const invalid = Buffer.concat([Buffer.from('{"session_id":"s'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const res = await postJson('/auth/login', invalid, { 'X-API-Key': apiKey });
    expectError(res, 400, 'invalid_request');
    expect(res.body.error.message).to.include('not valid UTF-8');
    const overlong = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    expectError(await postJson('/admin/agents', overlong, { Authorization: `Bearer ${admin.token}` }), 400, 'invalid_request');
    expectError(await postJson('/admin/agents', '{"name":"half \\ud800 a pair"}', { Authorization: `Bearer ${admin.token}` }), 400, 'invalid_request');
    expect(await agentCount()).to.equal(before);
    // Well-formed pairs (an emoji) are fine.
    expect((await postJson('/admin/agents', '{"name":"rocket \\ud83d\\ude80"}', { Authorization: `Bearer ${admin.token}` })).status).to.equal(201);
  });

  it('refuses a field given twice and a __proto__ field', async () => {
    const twice = await postJson('/auth/login', '{"session_id":"a","session_id":"b"}', { 'X-API-Key': apiKey });
    expectError(twice, 400, 'invalid_request');
    expect(twice.body.error.message).to.include('"session_id" is given twice');
    expectError(await postJson('/auth/refresh', `{"refresh_token":"${refreshToken}","refresh_token":"x"}`), 400, 'invalid_request');
    expectError(await postJson('/admin/agents', '{"name":"a","rate_limit":{"burst":5,"burst":500}}', { Authorization: `Bearer ${admin.token}` }), 400, 'invalid_request');
    expectError(await postJson('/admin/agents', '{"name":"a","__proto__":{"isAdmin":true}}', { Authorization: `Bearer ${admin.token}` }), 400, 'invalid_request');
  });

  it('refuses undecodable percent-encoding in paths and query strings instead of taking it literally', async () => {
    for (const path of ['/auth/sessions/%FF', '/auth/sessions/%E0%A4%A', '/auth/sessions/lone%ED%A0%80', '/auth/sessions/%']) {
      const res = await app.http().delete(path).set('X-API-Key', apiKey);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message).to.include('percent-encoding');
    }
    expectError(await admin.get('/admin/keys/%FF'), 400, 'invalid_request');
    expectError(await admin.get('/admin/keys?agent_id=%FF'), 400, 'invalid_request');
    // Well-formed UTF-8 still works.
    await login(app, apiKey, { session_id: 'café' });
    expect((await app.http().delete('/auth/sessions/caf%C3%A9').set('X-API-Key', apiKey)).status).to.equal(204);
  });

  it('refuses form bodies with undecodable percent-encoding (the HTML pages)', async () => {
    const agent = app.http();
    const page = await agent.get('/dashboard/login').expect(200);
    const csrf = hiddenValue(page.text, 'csrf');
    const res = await agent.post('/dashboard/login').type('form').send(`csrf=${encodeURIComponent(csrf)}&email=a%FF%40example.com&password=x`);
    expectError(res, 400, 'invalid_request');
  });
});
