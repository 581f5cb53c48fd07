import { expect } from 'chai';
import type { Response } from 'supertest';
import { adminCaller, type AdminSession } from '../admin/support.js';
import { createUser, hiddenValue, signIn } from '../dashboard/helpers.js';
import { agentKey, expectError, login } from '../exchange/support.js';
import { startOidcApp } from '../oidc/support.js';
import type { TestApp } from '../support/app.js';

/**
 * Audit LOW: `{"session_id":123}` answered "must be shorter than … characters". Every validated
 * body and query now says what is wrong with the field — not a string, given twice, required,
 * too long — whatever order the DTO's decorators are written in.
 */
describe('security: validation messages say what is wrong', () => {
  let app: TestApp;
  let admin: AdminSession;
  let apiKey: string;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
    apiKey = (await agentKey(app)).apiKey;
  });
  after(async () => { await app.close(); });

  function expectInvalid(res: Response, message: string): void {
    expectError(res, 400, 'invalid_request');
    expect(res.body.error.message).to.equal(`Invalid request: ${message}.`);
  }

  it('/auth/login, /auth/refresh, /auth/test: wrong type, required, too long', async () => {
    expectInvalid(await login(app, apiKey, { session_id: 123 }), 'session_id must be a string, not a whole number');
    expectInvalid(await login(app, apiKey, { scope: ['read'] }), 'scope must be a string, not a list');
    expectInvalid(await login(app, apiKey, { session_id: true }), 'session_id must be a string, not true');
    expectInvalid(await app.http().post('/auth/refresh').send({}), 'refresh_token is required');
    expectInvalid(await app.http().post('/auth/refresh').send({ refresh_token: 5 }), 'refresh_token must be a string, not a whole number');
    expectInvalid(await app.http().post('/auth/refresh').send({ refresh_token: null }), 'refresh_token must be a string, not null');
    expectInvalid(await app.http().post('/auth/refresh').send({ refresh_token: 'x'.repeat(513) }), 'refresh_token is too long (at most 512 characters)');
    expectInvalid(await app.http().post('/auth/test').send({ api_key: 1.5 }), 'api_key must be a string, not a number');
  });

  it('a field named like a member of every object is an unknown field, not dropped in silence', async () => {
    const named = (name: string, value: unknown): string => `{"session_id":"s-1",${JSON.stringify(name)}:${JSON.stringify(value)}}`;
    // (`__proto__` the body parser refuses with its own message.)
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      const res = await app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('Content-Type', 'application/json').send(named(name, 'x'));
      expectInvalid(res, `unknown field "${name}"`);
    }
    expectInvalid(await admin.post('/admin/agents', { name: 'a', constructor: 'x' }), 'unknown field "constructor"');
    expectInvalid(await app.http().post('/auth/test').set('Content-Type', 'application/json').send('{"toString":"x"}'), 'unknown field "toString"');
  });

  it('admin API bodies: the basic problem first, with the field path', async () => {
    expectInvalid(await admin.post('/admin/agents', {}), 'name is required');
    expectInvalid(await admin.post('/admin/agents', { name: 5 }), 'name must be a string, not a whole number');
    expectInvalid(await admin.post('/admin/agents', { name: 'x'.repeat(101) }), 'name is too long (at most 100 characters)');
    expectInvalid(await admin.post('/admin/agents', { name: 'a', rate_limit: { per_minute: '5' } }), 'rate_limit.per_minute must be a whole number, not a string');
    expectInvalid(await admin.post('/admin/agents', { name: 'a', rate_limit: 'fast' }), 'rate_limit must be an object, not a string');
    expectInvalid(await admin.post('/admin/agents', { name: 'a', surprise: 1 }), 'unknown field "surprise"');
    expectInvalid(await admin.post('/admin/clients', { name: 'c', grant_types: ['client_credentials'], public: 'yes' }), 'public must be true or false, not a string');
    expectInvalid(await admin.post('/admin/keys', {}), 'agent_id is required');
  });

  it('admin API bodies: null is not a way to leave a field out, unless the field takes null (found by the fuzz suite: a 500)', async () => {
    expectInvalid(await admin.post('/admin/agents', { name: 'a', env: null }), 'env must be a string, not null');
    expectInvalid(await admin.post('/admin/agents', { name: 'a', expires_at: null }), 'expires_at must be a string, not null');
    for (const field of ['expires_in', 'scopes', 'allow_ips']) {
      const res = await admin.post('/admin/agents', { name: 'a', [field]: null });
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message).to.match(new RegExp(`^Invalid request: ${field} must be`));
    }
    expectInvalid(await admin.post('/admin/clients', { name: 'c', grant_types: ['client_credentials'], scopes: null }), 'scopes must be a list of at most 50 strings of at most 64 characters, or one comma-separated string');
    // Fields where null means "none" or "the default" still take it.
    expect((await admin.post('/admin/agents', { name: 'a', contact_email: null, rate_limit: { per_minute: null } })).status).to.equal(201);
  });

  it('admin API queries: a parameter given twice says so', async () => {
    expectInvalid(await admin.get('/admin/agents?status=active&status=revoked'), 'status is given more than once');
    expectInvalid(await admin.get('/admin/keys?limit=1&limit=2'), 'limit is given more than once');
    expectInvalid(await admin.get('/admin/keys?agent_id=a&agent_id=b'), 'agent_id is given more than once');
  });

  it('HTML forms: a field given twice says so on the page', async () => {
    const user = await createUser(app);
    const agent = await signIn(app, user);
    const page = await agent.get('/dashboard/agents').expect(200);
    const csrf = hiddenValue(page.text, 'csrf');
    const res = await agent.post('/dashboard/agents').type('form').send(`csrf=${encodeURIComponent(csrf)}&name=one&name=two`);
    expect(res.status).to.equal(400);
    expect(res.text).to.include('name is given more than once');
  });
});
