import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { runKeyportInProcess } from '../support/cli.js';
import { startOidcApp } from '../oidc/support.js';
import { adminCaller, normalized, type AdminCaller } from './support.js';

const AGENT_FIELDS = ['id', 'name', 'contact_email', 'status', 'created_at', 'revoked_at'];
const KEY_FIELDS = ['id', 'agent_id', 'name', 'prefix', 'scopes', 'access_type', 'env', 'status', 'expires_at', 'ip_allow_list', 'rate_limit', 'effective_rate_limit', 'contact_email', 'created_at', 'last_used_at', 'revoked_at', 'replaced_by', 'grace_until'];

describe('admin API: /admin/agents', () => {
  let app: TestApp;
  let admin: AdminCaller;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
  });
  after(async () => { await app.close(); });

  it('POST creates an agent and its first key with defaults: 201, Location, the key once', async () => {
    const res = await admin.post('/admin/agents', { name: 'ci-deploy' }).expect(201);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.headers.location).to.equal(`/admin/agents/${res.body.agent.id}`);
    expect(res.body).to.have.all.keys('agent', 'key', 'api_key');
    expect(res.body.agent).to.have.all.keys(...AGENT_FIELDS);
    expect(res.body.agent).to.include({ name: 'ci-deploy', status: 'active', contact_email: null, revoked_at: null });
    expect(res.body.key).to.have.all.keys(...KEY_FIELDS);
    expect(res.body.key).to.deep.include({ agent_id: res.body.agent.id, name: 'default', scopes: ['read'], access_type: 'integrations', env: 'live', status: 'active', expires_at: null, ip_allow_list: null, rate_limit: null });
    expect(res.body.api_key).to.match(/^ak_live_[A-Za-z0-9]{32}$/);
    expect(res.body.key.prefix).to.equal(res.body.api_key.slice(0, 12));

    // The key is shown once: reading the agent back never shows it.
    const shown = await admin.get(`/admin/agents/${res.body.agent.id}`).expect(200);
    expect(JSON.stringify(shown.body)).not.to.include(res.body.api_key.slice(12));
  });

  it('POST takes every key option of agent:create', async () => {
    const before = Date.now();
    const res = await admin.post('/admin/agents', {
      name: 'billing', contact_email: 'Ops@Example.com', key_name: 'primary', scopes: ['read', 'write'], env: 'test',
      access_type: 'transactional', expires_in: '90d', allow_ips: ['10.1.2.3/8', '2001:db8::/32'], rate_limit: { per_minute: 120, burst: 5 },
    }).expect(201);
    expect(res.body.agent).to.include({ name: 'billing', contact_email: 'ops@example.com' });
    expect(res.body.key).to.deep.include({
      name: 'primary', scopes: ['read', 'write'], env: 'test', access_type: 'transactional', ip_allow_list: ['10.0.0.0/8', '2001:db8::/32'],
      rate_limit: { per_minute: 120, per_hour: null, burst: 5 }, contact_email: 'ops@example.com',
    });
    expect(res.body.key.effective_rate_limit).to.deep.equal({ per_minute: 120, per_hour: app.config.rateLimit.perHour, burst: 5 });
    const expires = Date.parse(res.body.key.expires_at) - before;
    expect(expires).to.be.within(90 * 86_400_000 - 5000, 90 * 86_400_000 + 5000);
    expect(res.body.api_key).to.match(/^ak_test_/);

    // Comma-separated strings and seconds, like the CLI's flags.
    const strings = await admin.post('/admin/agents', { name: 'strings', scopes: 'read, delete', allow_ips: '192.0.2.1,198.51.100.0/24', expires_in: 3600, access_type: 'admin' }).expect(201);
    expect(strings.body.key).to.deep.include({ scopes: ['read', 'delete'], ip_allow_list: ['192.0.2.1', '198.51.100.0/24'], access_type: 'admin' });
    const absolute = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const at = await admin.post('/admin/agents', { name: 'absolute', expires_at: absolute, scopes: ['admin'], access_type: 'admin' }).expect(201);
    expect(at.body.key.expires_at).to.equal(absolute);
  });

  it('GET lists agents, filtered by status and limit', async () => {
    const first = (await admin.post('/admin/agents', { name: 'list-1' }).expect(201)).body.agent;
    const second = (await admin.post('/admin/agents', { name: 'list-2' }).expect(201)).body.agent;
    await admin.post(`/admin/agents/${first.id}/revoke`).expect(200);

    const all = await admin.get('/admin/agents').expect(200);
    expect(all.headers['cache-control']).to.equal('no-store');
    expect(all.body).to.have.all.keys('agents');
    const ids = all.body.agents.map((agent: { id: string }) => agent.id);
    expect(ids).to.include.members([first.id, second.id]);
    for (const agent of all.body.agents) expect(agent).to.have.all.keys(...AGENT_FIELDS);

    const revoked = await admin.get('/admin/agents?status=revoked').expect(200);
    expect(revoked.body.agents.map((agent: { id: string }) => agent.id)).to.include(first.id);
    expect(revoked.body.agents.every((agent: { status: string }) => agent.status === 'revoked')).to.equal(true);
    const active = await admin.get('/admin/agents?status=active').expect(200);
    expect(active.body.agents.map((agent: { id: string }) => agent.id)).to.include(second.id).and.not.include(first.id);

    const one = await admin.get('/admin/agents?limit=1').expect(200);
    expect(one.body.agents).to.have.length(1);
  });

  it('GET /:id shows the agent with its keys', async () => {
    const created = (await admin.post('/admin/agents', { name: 'with-keys' }).expect(201)).body;
    const more = (await admin.post('/admin/keys', { agent_id: created.agent.id, name: 'second' }).expect(201)).body;
    const res = await admin.get(`/admin/agents/${created.agent.id}`).expect(200);
    expect(res.body).to.have.all.keys('agent', 'keys');
    // normalized: MySQL keeps whole seconds, so a timestamp read back may differ from the one at creation.
    expect(normalized(res.body.agent)).to.deep.equal(normalized(created.agent));
    expect(res.body.agent.id).to.equal(created.agent.id);
    expect(res.body.keys.map((key: { id: string }) => key.id)).to.have.members([created.key.id, more.key.id]);
    for (const key of res.body.keys) expect(key).to.have.all.keys(...KEY_FIELDS);
  });

  it('POST /:id/revoke revokes the agent and every key; its keys stop at /auth/test; again is a no-op', async () => {
    const created = (await admin.post('/admin/agents', { name: 'doomed' }).expect(201)).body;
    const second = (await admin.post('/admin/keys', { agent_id: created.agent.id }).expect(201)).body;
    await app.http().get('/auth/test').set('X-API-Key', created.api_key).expect(200);

    const res = await admin.post(`/admin/agents/${created.agent.id}/revoke`).expect(200);
    expect(res.body).to.have.all.keys('agent', 'revoked_keys', 'already_revoked');
    expect(res.body.agent).to.include({ id: created.agent.id, status: 'revoked' });
    expect(res.body.agent.revoked_at).to.be.a('string');
    expect(res.body.revoked_keys).to.have.members([created.key.id, second.key.id]);
    expect(res.body.already_revoked).to.equal(false);

    for (const apiKey of [created.api_key, second.api_key]) {
      const refused = await app.http().get('/auth/test').set('X-API-Key', apiKey);
      expect(refused.status).to.equal(401);
      expect(refused.body.error.code).to.equal('revoked_api_key');
    }

    const again = await admin.post(`/admin/agents/${created.agent.id}/revoke`, {}).expect(200);
    expect(again.body).to.deep.include({ revoked_keys: [], already_revoked: true });
  });

  it('answers in the shapes of the CLI\'s --json (agent:create, agent:list, agent:revoke)', async () => {
    const options = { contact: 'ops@example.com', scopes: 'read,write', env: 'test', accessType: 'integrations', expiresIn: '30d', allowIp: '10.0.0.0/8', perMin: '60' };
    const cli = await runKeyportInProcess(['agent:create', '--name', 'parity', '--contact', options.contact, '--scopes', options.scopes, '--env', options.env,
      '--access-type', options.accessType, '--expires-in', options.expiresIn, '--allow-ip', options.allowIp, '--rate-limit-per-min', options.perMin, '--json'], app.env);
    expect(cli.code, cli.stderr).to.equal(0);
    const api = await admin.post('/admin/agents', {
      name: 'parity', contact_email: options.contact, scopes: options.scopes, env: options.env, access_type: options.accessType,
      expires_in: options.expiresIn, allow_ips: options.allowIp, rate_limit: { per_minute: Number(options.perMin) },
    }).expect(201);
    expect(normalized(api.body)).to.deep.equal(normalized(JSON.parse(cli.stdout)));

    const cliList = await runKeyportInProcess(['agent:list', '--json'], app.env);
    const apiList = await admin.get('/admin/agents').expect(200);
    expect(normalized(apiList.body)).to.deep.equal(normalized(JSON.parse(cliList.stdout)));

    const cliRevoke = await runKeyportInProcess(['agent:revoke', '--id', JSON.parse(cli.stdout).agent.id, '--json'], app.env);
    const apiRevoke = await admin.post(`/admin/agents/${api.body.agent.id}/revoke`).expect(200);
    expect(normalized(apiRevoke.body)).to.deep.equal(normalized(JSON.parse(cliRevoke.stdout)));
  });
});
