import { expect } from 'chai';
import { Agent } from '../../src/db/entities/agent.js';
import { ApiKey } from '../../src/db/entities/api_key.js';
import type { TestApp } from '../support/app.js';
import { startOidcApp } from '../oidc/support.js';
import { adminCaller, BAD_KEY_OPTIONS, expectError, type AdminCaller } from './support.js';

describe('admin API: /admin/agents refuses bad input', () => {
  let app: TestApp;
  let admin: AdminCaller;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
  });
  after(async () => { await app.close(); });

  async function counts(): Promise<[number, number]> {
    const { dataSource } = app.services.database;
    return [await dataSource.getRepository(Agent).count(), await dataSource.getRepository(ApiKey).count()];
  }

  it('POST: 400 invalid_request naming the field, for every field, and writes nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /name/],
      [{ name: null }, /name/],
      [{ name: 5 }, /name must be a string/],
      [{ name: ['a'] }, /name/],
      [{ name: '' }, /agent name: must not be empty/],
      [{ name: '   ' }, /agent name: must not be empty/],
      [{ name: 'x'.repeat(101) }, /name is too long \(at most 100 characters\)/],
      [{ name: 'tab\there' }, /agent name: must not contain control characters/],
      [{ name: 'ok', key_name: 5 }, /key_name/],
      [{ name: 'ok', key_name: 'x'.repeat(101) }, /key_name/],
      [{ name: 'ok', key_name: '' }, /key name: must not be empty/],
      [{ name: 'ok', surprise: 1 }, /unknown field "surprise"/],
      [{ name: 'ok', api_key: 'ak_live_x' }, /unknown field "api_key"/],
      [{ name: 'ok', agent_id: 'agt_x' }, /unknown field "agent_id"/],
      ...BAD_KEY_OPTIONS.map(([fields, field]): [unknown, RegExp] => [{ name: 'ok', ...fields }, field]),
    ];
    const before = await counts();
    for (const [body, field] of cases) {
      const res = await admin.post('/admin/agents', body);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, JSON.stringify(body).slice(0, 200)).to.match(field);
      expect(res.headers['cache-control']).to.equal('no-store');
    }
    expect(await counts()).to.deep.equal(before);
  });

  it('POST: 400 for a body that is not a JSON object, 415 for other media types, 413 when too large', async () => {
    expectError(await admin.post('/admin/agents').set('Content-Type', 'application/json').send('[1,2]'), 400, 'invalid_request');
    expectError(await admin.post('/admin/agents').set('Content-Type', 'application/json').send('"agent"'), 400, 'invalid_request');
    expectError(await admin.post('/admin/agents').set('Content-Type', 'application/json').send('{"name": "x",'), 400, 'invalid_request');
    expectError(await admin.post('/admin/agents').set('Content-Type', 'text/plain').send('name=x'), 415, 'unsupported_media_type');
    expectError(await admin.post('/admin/agents', { name: 'x', scopes: 'r'.repeat(70_000) }), 413, 'payload_too_large');
  });

  it('GET: 400 for bad filters', async () => {
    for (const query of ['status=deleted', 'status=', 'limit=0', 'limit=1001', 'limit=abc', 'limit=-1', 'limit=1.5', 'limit=1&limit=2', 'status=active&status=revoked', 'agent_id=agt_x', 'sort=name']) {
      const res = await admin.get(`/admin/agents?${query}`);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, query).to.match(/status|limit|unknown field/);
    }
  });

  it('404 not_found for unknown and implausible ids', async () => {
    for (const id of ['agt_doesnotexist', 'key_abc', 'nonsense', `agt_${'a'.repeat(100)}`, '%27%20OR%201%3D1']) {
      expectError(await admin.get(`/admin/agents/${id}`), 404, 'not_found');
      expectError(await admin.post(`/admin/agents/${id}/revoke`), 404, 'not_found');
    }
  });

  it('revoke takes no fields', async () => {
    const created = (await admin.post('/admin/agents', { name: 'stays' }).expect(201)).body;
    const res = await admin.post(`/admin/agents/${created.agent.id}/revoke`, { reason: 'x' });
    expectError(res, 400, 'invalid_request');
    expect(res.body.error.message).to.match(/unknown field "reason"/);
    expect((await app.services.keys.agents.get(created.agent.id)).status).to.equal('active');
  });

  it('405 method_not_allowed with Allow for a known path, 404 for an unknown one', async () => {
    const res = await admin.delete('/admin/agents');
    expectError(res, 405, 'method_not_allowed');
    expect(res.headers.allow).to.include('GET').and.include('POST');
    expectError(await app.http().put('/admin/agents/agt_x').send({}), 405, 'method_not_allowed');
    expectError(await admin.get('/admin/nothing-here'), 404, 'not_found');
  });
});
