import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { runKeyportInProcess } from '../support/cli.js';
import { startOidcApp } from '../oidc/support.js';
import { adminCaller, expectError, normalized, type AdminCaller } from './support.js';

const within = (iso: string, expectedMs: number, slackMs = 5000): void => {
  expect(Date.parse(iso)).to.be.within(expectedMs - slackMs, expectedMs + slackMs);
};

describe('admin API: /admin/keys', () => {
  let app: TestApp;
  let admin: AdminCaller;
  let agentId: string;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
    agentId = (await admin.post('/admin/agents', { name: 'owner', contact_email: 'owner@example.com' }).expect(201)).body.agent.id;
  });
  after(async () => { await app.close(); });

  it('POST creates a key for an agent (201, Location, the key once) and the key works at /auth/test', async () => {
    const res = await admin.post('/admin/keys', { agent_id: agentId, name: 'nightly-sync', scopes: ['read', 'write', 'delete'] }).expect(201);
    expect(res.headers.location).to.equal(`/admin/keys/${res.body.key.id}`);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body).to.have.all.keys('key', 'api_key');
    expect(res.body.key).to.deep.include({ agent_id: agentId, name: 'nightly-sync', scopes: ['read', 'write', 'delete'], access_type: 'integrations', env: 'live', status: 'active', contact_email: 'owner@example.com' });

    const test = await app.http().get('/auth/test').set('Authorization', `Bearer ${res.body.api_key}`).expect(200);
    expect(test.body.key).to.include({ id: res.body.key.id, prefix: res.body.key.prefix, env: 'live', access_type: 'integrations' });
    expect(test.body.agent.id).to.equal(agentId);
    expect(test.body.scopes).to.deep.equal(['read', 'write', 'delete']);
  });

  it('POST takes every key option, its own contact included', async () => {
    const res = await admin.post('/admin/keys', {
      agent_id: agentId, contact_email: 'team@example.com', env: 'test', access_type: 'admin', scopes: 'admin,read',
      expires_in: 86_400, allow_ips: ['127.0.0.1', '::1'], rate_limit: { per_minute: 10, per_hour: 100, burst: 2 },
    }).expect(201);
    expect(res.body.key).to.deep.include({
      contact_email: 'team@example.com', env: 'test', access_type: 'admin', scopes: ['read', 'admin'], ip_allow_list: ['127.0.0.1', '::1'],
      rate_limit: { per_minute: 10, per_hour: 100, burst: 2 }, effective_rate_limit: { per_minute: 10, per_hour: 100, burst: 2 },
    });
    within(res.body.key.expires_at, Date.now() + 86_400_000);
    await app.http().get('/auth/test').set('X-API-Key', res.body.api_key).expect(200);
  });

  it('GET lists keys (all, or one agent\'s), GET /:id shows one, never with the secret', async () => {
    const other = (await admin.post('/admin/agents', { name: 'other' }).expect(201)).body;
    const mine = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;

    const all = await admin.get('/admin/keys').expect(200);
    expect(all.body).to.have.all.keys('keys');
    const allIds = all.body.keys.map((key: { id: string }) => key.id);
    expect(allIds).to.include.members([other.key.id, mine.key.id]);

    const filtered = await admin.get(`/admin/keys?agent_id=${agentId}`).expect(200);
    expect(filtered.body.keys.every((key: { agent_id: string }) => key.agent_id === agentId)).to.equal(true);
    expect(filtered.body.keys.map((key: { id: string }) => key.id)).to.include(mine.key.id).and.not.include(other.key.id);
    expect((await admin.get('/admin/keys?limit=1').expect(200)).body.keys).to.have.length(1);

    const shown = await admin.get(`/admin/keys/${mine.key.id}`).expect(200);
    expect(shown.body).to.have.all.keys('key');
    // normalized: MySQL keeps whole seconds, so a timestamp read back may differ from the one at creation.
    expect(normalized(shown.body.key)).to.deep.equal(normalized(mine.key));
    expect(shown.body.key.id).to.equal(mine.key.id);
    for (const body of [all.body, filtered.body, shown.body]) {
      expect(JSON.stringify(body)).not.to.include(mine.api_key.slice(12));
      expect(JSON.stringify(body)).not.to.include(other.api_key.slice(12));
    }
  });

  it('POST /:id/rotate issues a successor with the same settings; the old key works through the grace period', async () => {
    const old = (await admin.post('/admin/keys', { agent_id: agentId, name: 'rotating', scopes: ['read', 'write'], env: 'test', allow_ips: '127.0.0.1', expires_in: '30d' }).expect(201)).body;
    const res = await admin.post(`/admin/keys/${old.key.id}/rotate`).expect(201);
    expect(res.body).to.have.all.keys('key', 'api_key', 'previous_key');
    expect(res.headers.location).to.equal(`/admin/keys/${res.body.key.id}`);
    expect(res.body.key).to.deep.include({ agent_id: agentId, name: 'rotating', scopes: ['read', 'write'], env: 'test', ip_allow_list: ['127.0.0.1'], status: 'active' });
    within(res.body.key.expires_at, Date.now() + 30 * 86_400_000);
    expect(res.body.api_key).to.match(/^ak_test_/).and.not.equal(old.api_key);
    expect(res.body.previous_key).to.include({ id: old.key.id, status: 'active', replaced_by: res.body.key.id });
    within(res.body.previous_key.grace_until, Date.now() + 86_400_000);

    await app.http().get('/auth/test').set('X-API-Key', res.body.api_key).expect(200);
    await app.http().get('/auth/test').set('X-API-Key', old.api_key).expect(200);
  });

  it('POST /:id/rotate with a grace in seconds, as a duration, or 0 to revoke the old key at once', async () => {
    const a = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    const seconds = await admin.post(`/admin/keys/${a.key.id}/rotate`, { grace: 60 }).expect(201);
    within(seconds.body.previous_key.grace_until, Date.now() + 60_000);

    const b = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    const text = await admin.post(`/admin/keys/${b.key.id}/rotate`, { grace: '2h' }).expect(201);
    within(text.body.previous_key.grace_until, Date.now() + 7_200_000);

    const c = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    const now = await admin.post(`/admin/keys/${c.key.id}/rotate`, { grace: '0' }).expect(201);
    expect(now.body.previous_key).to.include({ status: 'revoked', replaced_by: now.body.key.id });
    expectError(await app.http().get('/auth/test').set('X-API-Key', c.api_key), 401, 'revoked_api_key');
    await app.http().get('/auth/test').set('X-API-Key', now.body.api_key).expect(200);
  });

  it('POST /:id/revoke and DELETE /:id revoke at once; the key is refused at /auth/test; again is a no-op', async () => {
    const created = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    await app.http().get('/auth/test').set('X-API-Key', created.api_key).expect(200);
    const res = await admin.post(`/admin/keys/${created.key.id}/revoke`).expect(200);
    expect(res.body).to.have.all.keys('key', 'already_revoked');
    expect(res.body.key).to.include({ id: created.key.id, status: 'revoked' });
    expect(res.body.key.revoked_at).to.be.a('string');
    expect(res.body.already_revoked).to.equal(false);
    expectError(await app.http().get('/auth/test').set('X-API-Key', created.api_key), 401, 'revoked_api_key');
    expectError(await app.http().get('/auth/test').set('Authorization', `Bearer ${created.api_key}`), 401, 'revoked_api_key');
    expect((await admin.post(`/admin/keys/${created.key.id}/revoke`, {}).expect(200)).body.already_revoked).to.equal(true);

    const other = (await admin.post('/admin/keys', { agent_id: agentId }).expect(201)).body;
    await app.http().get('/auth/test').set('X-API-Key', other.api_key).expect(200);
    const deleted = await admin.delete(`/admin/keys/${other.key.id}`).expect(200);
    expect(deleted.body).to.deep.include({ already_revoked: false });
    expect(deleted.body.key.status).to.equal('revoked');
    expectError(await app.http().get('/auth/test').set('X-API-Key', other.api_key), 401, 'revoked_api_key');
    expect((await admin.delete(`/admin/keys/${other.key.id}`).expect(200)).body.already_revoked).to.equal(true);
    // Still listed, as revoked: revocation keeps the record.
    expect((await admin.get(`/admin/keys/${other.key.id}`).expect(200)).body.key.status).to.equal('revoked');
  });

  it('answers in the shapes of the CLI\'s --json (key:create, key:show, key:list, key:rotate, key:revoke)', async () => {
    const parityAgent = (await admin.post('/admin/agents', { name: 'parity' }).expect(201)).body.agent.id as string;
    const cli = async (args: string[]): Promise<unknown> => {
      const result = await runKeyportInProcess([...args, '--json'], app.env);
      expect(result.code, result.stderr).to.equal(0);
      return JSON.parse(result.stdout);
    };
    const flags = ['--scopes', 'read,write', '--env', 'test', '--expires-in', '7d', '--allow-ip', '10.0.0.0/8', '--rate-limit-burst', '3'];
    const viaCli = await cli(['key:create', '--agent', parityAgent, '--name', 'k', ...flags]) as { key: { id: string } };
    const viaApi = await admin.post('/admin/keys', { agent_id: parityAgent, name: 'k', scopes: 'read,write', env: 'test', expires_in: '7d', allow_ips: '10.0.0.0/8', rate_limit: { burst: 3 } }).expect(201);
    expect(normalized(viaApi.body)).to.deep.equal(normalized(viaCli));

    expect(normalized((await admin.get(`/admin/keys/${viaApi.body.key.id}`).expect(200)).body)).to.deep.equal(normalized(await cli(['key:show', viaCli.key.id])));
    expect(normalized((await admin.get(`/admin/keys?agent_id=${parityAgent}`).expect(200)).body)).to.deep.equal(normalized(await cli(['key:list', '--agent', parityAgent])));
    expect(normalized((await admin.post(`/admin/keys/${viaApi.body.key.id}/rotate`, { grace: '1h' }).expect(201)).body))
      .to.deep.equal(normalized(await cli(['key:rotate', viaCli.key.id, '--grace', '1h'])));
    expect(normalized((await admin.post(`/admin/keys/${viaApi.body.key.id}/revoke`).expect(200)).body)).to.deep.equal(normalized(await cli(['key:revoke', viaCli.key.id])));
  });
});
