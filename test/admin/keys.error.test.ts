import { expect } from 'chai';
import { ApiKey } from '../../src/db/entities/api_key.js';
import type { TestApp } from '../support/app.js';
import { startOidcApp } from '../oidc/support.js';
import { updateKeyRow } from '../keys/helpers.js';
import { adminCaller, BAD_KEY_OPTIONS, expectError, type AdminCaller } from './support.js';

describe('admin API: /admin/keys refuses bad input and bad states', () => {
  let app: TestApp;
  let admin: AdminCaller;
  let agentId: string;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
    agentId = (await admin.post('/admin/agents', { name: 'owner' }).expect(201)).body.agent.id;
  });
  after(async () => { await app.close(); });

  const keyCount = (): Promise<number> => app.services.database.dataSource.getRepository(ApiKey).count();

  it('POST: 400 invalid_request naming the field, for every field, and writes nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /agent_id/],
      [{ agent_id: null }, /agent_id/],
      [{ agent_id: 5 }, /agent_id must be a string/],
      [{ agent_id: `agt_${'a'.repeat(100)}` }, /agent_id is too long/],
      [{ agent_id: agentId, name: 5 }, /name must be a string/],
      [{ agent_id: agentId, name: 'x'.repeat(101) }, /name is too long/],
      [{ agent_id: agentId, name: '' }, /key name: must not be empty/],
      [{ agent_id: agentId, name: 'line\nbreak' }, /key name: must not contain control characters/],
      [{ agent_id: agentId, key_name: 'x' }, /unknown field "key_name"/],
      [{ agent_id: agentId, grace: '1h' }, /unknown field "grace"/],
      [{ agent_id: agentId, status: 'revoked' }, /unknown field "status"/],
      ...BAD_KEY_OPTIONS.map(([fields, field]): [unknown, RegExp] => [{ agent_id: agentId, ...fields }, field]),
    ];
    const before = await keyCount();
    for (const [body, field] of cases) {
      const res = await admin.post('/admin/keys', body);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, JSON.stringify(body).slice(0, 200)).to.match(field);
    }
    expect(await keyCount()).to.equal(before);
  });

  it('POST: 404 for an unknown agent, 409 conflict for a revoked one', async () => {
    for (const id of ['agt_doesnotexist', 'key_notanagent', 'nonsense']) {
      expectError(await admin.post('/admin/keys', { agent_id: id }), 404, 'not_found');
    }
    const revoked = (await admin.post('/admin/agents', { name: 'gone' }).expect(201)).body.agent.id;
    await admin.post(`/admin/agents/${revoked}/revoke`).expect(200);
    const before = await keyCount();
    expectError(await admin.post('/admin/keys', { agent_id: revoked }), 409, 'conflict');
    expect(await keyCount()).to.equal(before);
  });

  it('GET: 400 for bad filters, 404 for an unknown agent filter', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=x', 'agent_id=a&agent_id=b', `agent_id=${'a'.repeat(65)}`, 'status=active', 'agent=agt_x']) {
      const res = await admin.get(`/admin/keys?${query}`);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, query).to.match(/limit|agent_id|unknown field/);
    }
    expectError(await admin.get('/admin/keys?agent_id=agt_doesnotexist'), 404, 'not_found');
  });

  it('404 not_found for unknown ids on show, rotate, revoke and delete', async () => {
    for (const id of ['key_doesnotexist', 'agt_notakey', 'nonsense', `key_${'a'.repeat(100)}`]) {
      expectError(await admin.get(`/admin/keys/${id}`), 404, 'not_found');
      expectError(await admin.post(`/admin/keys/${id}/rotate`), 404, 'not_found');
      expectError(await admin.post(`/admin/keys/${id}/revoke`), 404, 'not_found');
      expectError(await admin.delete(`/admin/keys/${id}`), 404, 'not_found');
    }
  });

  it('rotate: 400 for a bad grace or unknown fields, and nothing rotates', async () => {
    const created = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    const cases: Array<[unknown, RegExp]> = [
      [{ grace: 'soon' }, /grace: "soon" is not a duration/],
      [{ grace: '24 h' }, /grace/],
      [{ grace: -1 }, /grace: must be between 0 s and 30 days/],
      [{ grace: '31d' }, /grace: must be between 0 s and 30 days/],
      [{ grace: 1.5 }, /grace must be a whole number/],
      [{ grace: true }, /grace must be a whole number/],
      [{ grace: { hours: 1 } }, /grace must be a whole number/],
      [{ grace: 'x'.repeat(40) }, /grace must be a whole number/],
      [{ grace: '1h', scopes: ['admin'] }, /unknown field "scopes"/],
    ];
    const before = await keyCount();
    for (const [body, field] of cases) {
      const res = await admin.post(`/admin/keys/${created.key.id}/rotate`, body);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, JSON.stringify(body)).to.match(field);
    }
    expect(await keyCount()).to.equal(before);
    expect((await admin.get(`/admin/keys/${created.key.id}`).expect(200)).body.key.replaced_by).to.equal(null);
  });

  it('rotate: 409 conflict for a revoked, expired or already rotated key', async () => {
    const revoked = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    await admin.post(`/admin/keys/${revoked.key.id}/revoke`).expect(200);
    expectError(await admin.post(`/admin/keys/${revoked.key.id}/rotate`), 409, 'conflict');

    const expired = (await admin.post('/admin/keys', { agent_id: agentId, expires_in: '1h' }).expect(201)).body;
    await updateKeyRow(app, expired.key.id, { expiresAt: new Date(Date.now() - 60_000) });
    expectError(await admin.post(`/admin/keys/${expired.key.id}/rotate`), 409, 'conflict');

    const rotated = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    const successor = (await admin.post(`/admin/keys/${rotated.key.id}/rotate`).expect(201)).body;
    const again = await admin.post(`/admin/keys/${rotated.key.id}/rotate`);
    expectError(again, 409, 'conflict');
    expect(again.body.error.message).to.include(successor.key.id);
  });

  it('revoke takes no fields', async () => {
    const created = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    const res = await admin.post(`/admin/keys/${created.key.id}/revoke`, { why: 'leaked' });
    expectError(res, 400, 'invalid_request');
    expect(res.body.error.message).to.match(/unknown field "why"/);
    await app.http().get('/auth/test').set('X-API-Key', created.api_key).expect(200);
  });

  it('405 for methods a key path does not take', async () => {
    expectError(await admin.delete('/admin/keys'), 405, 'method_not_allowed');
    expectError(await admin.get('/admin/keys/key_x/rotate'), 405, 'method_not_allowed');
    expectError(await admin.delete('/admin/keys/key_x/revoke'), 405, 'method_not_allowed');
  });
});
