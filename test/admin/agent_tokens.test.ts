import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { startOidcApp } from '../oidc/support.js';
import { adminCaller, expectError, type AdminCaller } from './support.js';

const KEY_FIELDS = ['id', 'agent_id', 'name', 'prefix', 'scopes', 'access_type', 'env', 'status', 'expires_at', 'ip_allow_list', 'rate_limit', 'effective_rate_limit', 'contact_email', 'created_at', 'last_used_at', 'revoked_at', 'replaced_by', 'grace_until'];

/** `/admin/agents/:id/token` and `with_token` (docs/admin-api.md). */
describe('admin API: agent access tokens', () => {
  let app: TestApp;
  let admin: AdminCaller;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
  });
  after(async () => { await app.close(); });

  it('POST /admin/agents with with_token: the first credential is the agent access token', async () => {
    const res = await admin.post('/admin/agents', { name: 'tokened', with_token: true, scopes: 'read' }).expect(201);
    expect(res.body).to.have.all.keys('agent', 'key', 'agent_token');
    expect(res.body.agent.id).to.match(/^agent_[A-Za-z0-9]{20}$/);
    expect(res.body.agent_token).to.match(/^agt_[A-Za-z0-9]{32}$/);
    expect(res.body.key).to.have.all.keys(...KEY_FIELDS);
    expect(res.body.key).to.include({ prefix: res.body.agent_token.slice(0, 8), env: 'live', agent_id: res.body.agent.id });
    const test = await app.http().get('/auth/test').set('Authorization', `Bearer ${res.body.agent_token}`);
    expect(test.status, test.text).to.equal(200);
  });

  it('creates, shows, rotates and revokes the token of an agent', async () => {
    const agentId = (await admin.post('/admin/agents', { name: 'later' }).expect(201)).body.agent.id as string;
    expect((await admin.get(`/admin/agents/${agentId}/token`).expect(200)).body).to.deep.equal({ key: null });
    expectError(await admin.get('/admin/agents/agent_doesnotexist/token'), 404, 'not_found');
    const created = await admin.post(`/admin/agents/${agentId}/token`, { scopes: ['read', 'write'], rate_limit: { burst: 5 } }).expect(201);
    expect(created.headers.location).to.equal(`/admin/keys/${created.body.key.id}`);
    expect(created.body).to.have.all.keys('key', 'agent_token');
    expect(created.body.key).to.deep.include({ name: 'API access', scopes: ['read', 'write'], rate_limit: { per_minute: null, per_hour: null, burst: 5 } });
    expectError(await admin.post(`/admin/agents/${agentId}/token`, {}), 409, 'conflict');
    expectError(await admin.post(`/admin/agents/${agentId}/token`, { env: 'test' }), 400, 'invalid_request');

    const shown = await admin.get(`/admin/agents/${agentId}/token`).expect(200);
    expect(shown.body.key.id).to.equal(created.body.key.id);
    expect(JSON.stringify(shown.body)).not.to.include(created.body.agent_token.slice(8));
    // It is an API key: /admin/keys lists and shows it too.
    const listed = await admin.get(`/admin/keys?agent_id=${agentId}`).expect(200);
    expect(listed.body.keys.map((key: { id: string }) => key.id)).to.include(created.body.key.id);

    const rotated = await admin.post(`/admin/agents/${agentId}/token/rotate`, { grace: '1h' }).expect(201);
    expect(rotated.body).to.have.all.keys('key', 'agent_token', 'previous_key');
    expect(rotated.body.previous_key.replaced_by).to.equal(rotated.body.key.id);
    expect(rotated.body.agent_token).to.match(/^agt_[A-Za-z0-9]{32}$/);
    expect((await admin.get(`/admin/agents/${agentId}/token`).expect(200)).body.key.id).to.equal(rotated.body.key.id);

    const revoked = await admin.post(`/admin/agents/${agentId}/token/revoke`).expect(200);
    expect(revoked.body).to.deep.include({ already_revoked: false });
    expect(revoked.body.key).to.include({ id: rotated.body.key.id, status: 'revoked' });
    expectError(await admin.delete(`/admin/agents/${agentId}/token`), 404, 'not_found');
    const login = await app.http().post('/auth/login').set('Authorization', `Bearer ${rotated.body.agent_token}`).send({});
    expectError(login, 401, 'revoked_api_key');
  });

  it('resolves the legacy agt_ form of an agent id with Deprecation and Warning headers', async () => {
    const agentId = (await admin.post('/admin/agents', { name: 'legacy' }).expect(201)).body.agent.id as string;
    const legacy = agentId.replace(/^agent_/, 'agt_');
    const shown = await admin.get(`/admin/agents/${legacy}`).expect(200);
    expect(shown.body.agent.id).to.equal(agentId);
    expect(shown.headers.deprecation).to.equal('true');
    expect(shown.headers.warning).to.match(/^299 - ".*deprecated.*"$/);
    const keys = await admin.get(`/admin/keys?agent_id=${legacy}`).expect(200);
    expect(keys.headers.deprecation).to.equal('true');
    const key = await admin.post('/admin/keys', { agent_id: legacy }).expect(201);
    expect(key.body.key.agent_id).to.equal(agentId);
    expect(key.headers.deprecation).to.equal('true');
    const current = await admin.get(`/admin/agents/${agentId}`).expect(200);
    expect(current.headers).not.to.have.property('deprecation');
  });

  it('needs the admin token like every admin route', async () => {
    const agentId = (await admin.post('/admin/agents', { name: 'guarded' }).expect(201)).body.agent.id as string;
    for (const res of [
      await app.http().get(`/admin/agents/${agentId}/token`),
      await app.http().post(`/admin/agents/${agentId}/token`).send({}),
      await app.http().post(`/admin/agents/${agentId}/token/rotate`).send({}),
      await app.http().post(`/admin/agents/${agentId}/token/revoke`).send({}),
    ]) expect(res.status).to.equal(401);
  });
});
