import { expect } from 'chai';
import type supertest from 'supertest';
import type { ApiKeySessionDirectory } from '../../src/dashboard/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { dumpDatabase } from '../keys/helpers.js';
import {
  auditFor, createAgentInPage, createUser, csrfOf, decodeEntities, expectPage, followReveal, keyForm, postForm, shownKey, signIn,
} from './helpers.js';

/** Every action through the pages: same services as the CLI, audited with the user as actor and the caller's address. */
describe('dashboard: agents, keys, clients and the audit log', () => {
  let app: TestApp;
  let user: { id: string; email: string; password: string };
  let agent: supertest.Agent;
  let csrf: string;
  const actor = () => `user:${user.id}`;
  const fromLoopback = (ip: string | null) => /127\.0\.0\.1|::1/.test(ip ?? '');

  before(async () => {
    app = await startTestApp();
    user = await createUser(app);
    agent = await signIn(app, user);
    csrf = await csrfOf(agent);
  });
  after(async () => { await app.close(); });

  const useKey = (apiKey: string) => app.http().get('/auth/test').set('Authorization', `Bearer ${apiKey}`);

  it('creates an agent (audited as the user, from the caller\'s address) and lists and searches agents', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'Billing Sync', 'Billing@Example.com');
    const created = await app.services.keys.agents.get(agentId);
    expect(created).to.include({ name: 'Billing Sync', contactEmail: 'billing@example.com', status: 'active' });
    const [event] = await auditFor(app, agentId);
    expect(event).to.include({ action: 'agent.created', actor: actor() });
    expect(fromLoopback(event!.ip)).to.equal(true);

    await createAgentInPage(agent, csrf, 'ci-deploy');
    const all = await agent.get('/dashboard/agents').expect(200);
    expect(all.text).to.include('Billing Sync').and.include('ci-deploy');
    const found = await agent.get('/dashboard/agents?q=billing').expect(200);
    expect(found.text).to.include('Billing Sync').and.not.include('>ci-deploy<');
    expect(found.text).to.include('1 agent matching');
    const none = await agent.get('/dashboard/agents?q=zzz').expect(200);
    expect(decodeEntities(none.text)).to.include('No agent\'s name contains "zzz".');
  });

  it('creates a key with every option, shows it once in the POST response, and the key works', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'reporting', 'team@example.com');
    const res = await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf, {
      name: 'warehouse export', contact_email: 'data@example.com', access_type: 'admin', scopes: ['read', 'admin'], env: 'test',
      expires_in: '30d', ip_allow_list: '127.0.0.1\n::1, ::ffff:127.0.0.1, 10.0.0.0/8', rate_limit_per_minute: '120', rate_limit_per_hour: '', rate_limit_burst: '30',
    })));
    expectPage(res, 200);
    expect(res.headers['set-cookie'] ?? []).to.have.length(0);
    expect(res.text).to.include('It will not be shown again');
    const apiKey = shownKey(res.text);
    expect(apiKey).to.match(/^ak_test_/);

    const [key] = await app.services.keys.apiKeys.list({ agentId });
    expect(key).to.deep.include({ name: 'warehouse export', contactEmail: 'data@example.com', accessType: 'admin', env: 'test', scopes: ['read', 'admin'] });
    expect(key!.ipAllowList).to.deep.equal(['127.0.0.1', '::1', '10.0.0.0/8']);
    expect(key!.rateLimit).to.deep.equal({ perMinute: 120, perHour: null, burst: 30 });
    expect(key!.expiresAt!.getTime() - Date.now()).to.be.closeTo(30 * 86_400_000, 60_000);

    const ok = await useKey(apiKey).expect(200);
    expect(ok.body.key).to.include({ id: key!.id, env: 'test', access_type: 'admin' });
    expect(ok.body.scopes).to.deep.equal(['read', 'admin']);

    const [event] = await auditFor(app, key!.id);
    expect(event).to.include({ action: 'key.created', actor: actor() });
    expect(fromLoopback(event!.ip)).to.equal(true);
  });

  it('never shows the key again: not on any later page, not in the database, not in the logs', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'show-once');
    const apiKey = shownKey((await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf)))).text);
    const [key] = await app.services.keys.apiKeys.list({ agentId });
    const secretPart = apiKey.slice(12);
    for (const path of ['/dashboard/agents', `/dashboard/agents/${agentId}`, `/dashboard/keys/${key!.id}`, `/dashboard/keys/${key!.id}/rotate`, `/dashboard/keys/${key!.id}/revoke`, '/dashboard/audit', `/dashboard/audit?target=${key!.id}`, `/dashboard/agents/${agentId}/keys/new`]) {
      const page = await agent.get(path).expect(200);
      expect(page.text, path).not.to.include(secretPart);
      if (path.includes(key!.id) || path.endsWith(agentId)) expect(page.text, path).to.include(key!.prefix);
    }
    expect(await dumpDatabase(app)).not.to.include(secretPart);
    expect(app.logs.join('\n')).not.to.include(secretPart);
  });

  it('shows an agent\'s keys with prefix, name, env, access type, scopes, dates, status and usage', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'overview');
    const apiKey = shownKey((await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf, { name: 'first key', scopes: ['read', 'write'], expires_in: '90d' })))).text);
    for (let i = 0; i < 3; i += 1) await useKey(apiKey).expect(200);
    const [key] = await app.services.keys.apiKeys.list({ agentId });
    app.services.dashboard.usage.recordRejection(key!.id);
    const page = await agent.get(`/dashboard/agents/${agentId}`).expect(200);
    const row = page.text.slice(page.text.indexOf('<tbody>'), page.text.indexOf('</tbody>'));
    expect(row).to.include(`${key!.prefix}…`).and.include('first key').and.include('>live<').and.include('integrations').and.include('read write').and.include('>active<');
    expect(row).to.match(/3 \/ 3 \/ 1/);
    expect(row).to.include('<svg class="usage-chart"');
    expect(page.text).to.include('id="sessions-heading">Sessions</h2>').and.include('No active sessions.');
  });

  it('renders the Sessions section from the plugged-in directory, escaped', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'with-sessions');
    const { key } = await app.services.keys.apiKeys.create(agentId, {}, { actor: 'test' });
    const dashboard = app.services.dashboard as { apiKeySessions: ApiKeySessionDirectory };
    const original = dashboard.apiKeySessions;
    const asked: Array<[string, number]> = [];
    dashboard.apiKeySessions = {
      listActiveForAgent: async (id, { limit }) => {
        asked.push([id, limit]);
        return [{ keyId: key.id, sessionId: 'checkout-<42>', createdAt: new Date('2025-01-02T03:04:00Z'), lastUsedAt: null, expiresAt: new Date('2025-01-02T05:04:00Z') }];
      },
    };
    try {
      const page = await agent.get(`/dashboard/agents/${agentId}`).expect(200);
      expect(asked).to.deep.equal([[agentId, 50]]);
      expect(page.text).to.include('checkout-&lt;42&gt;').and.include('2025-01-02 03:04 UTC').and.include('2025-01-02 05:04 UTC').and.include(`${key.prefix}…`);
      expect(page.text).not.to.include('No active sessions.');
    } finally {
      dashboard.apiKeySessions = original;
    }
  });

  it('rotates with the chosen grace period, showing the new key once', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'rotation');
    const oldKey = shownKey((await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf, { scopes: ['read', 'write'] })))).text);
    const [old] = await app.services.keys.apiKeys.list({ agentId });
    const form = await agent.get(`/dashboard/keys/${old!.id}/rotate`).expect(200);
    expect(form.text).to.include('value="24h" checked');

    const res = await followReveal(agent, postForm(agent, `/dashboard/keys/${old!.id}/rotate`, { csrf, grace: '1h' }));
    expectPage(res, 200);
    const newKey = shownKey(res.text);
    expect(res.text).to.include('It will not be shown again').and.include('keeps working until');
    await useKey(newKey).expect(200);
    await useKey(oldKey).expect(200);
    const previous = await app.services.keys.apiKeys.get(old!.id);
    expect(previous.graceUntil!.getTime() - Date.now()).to.be.closeTo(3_600_000, 60_000);
    const rotated = (await auditFor(app, old!.id)).find((event) => event.action === 'key.rotated');
    expect(rotated).to.include({ actor: actor() });
    expect(rotated!.details).to.include({ grace_seconds: 3600, replaced_by: previous.replacedBy });

    // Grace 0: the successor's own rotation ends it at once.
    const again = await followReveal(agent, postForm(agent, `/dashboard/keys/${previous.replacedBy}/rotate`, { csrf, grace: '0' }));
    const third = shownKey(again.text);
    expect(again.text).to.include('stopped working now');
    expect((await useKey(newKey)).body.error.code).to.equal('revoked_api_key');
    await useKey(third).expect(200);
  });

  it('revokes a key after the confirmation page; the key is refused at once', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'revocation');
    const apiKey = shownKey((await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf)))).text);
    await useKey(apiKey).expect(200);
    const [key] = await app.services.keys.apiKeys.list({ agentId });
    const confirm = await agent.get(`/dashboard/keys/${key!.id}/revoke`);
    expectPage(confirm, 200);
    expect(confirm.text).to.include('This cannot be undone').and.include('name="confirm" value="yes"').and.include('Revoke key');
    const res = await postForm(agent, `/dashboard/keys/${key!.id}/revoke`, { csrf, confirm: 'yes' }).expect(303);
    expect(res.headers.location).to.equal(`/dashboard/agents/${agentId}?done=key_revoked`);
    const refused = await useKey(apiKey).expect(401);
    expect(refused.body.error.code).to.equal('revoked_api_key');
    const page = await agent.get(res.headers.location).expect(200);
    expect(page.text).to.include('The key was revoked.').and.include('>revoked<');
    const event = (await auditFor(app, key!.id)).find((item) => item.action === 'key.revoked');
    expect(event).to.include({ actor: actor() });
    expect(fromLoopback(event!.ip)).to.equal(true);
    // Revoked: no second confirmation page.
    expectPage(await agent.get(`/dashboard/keys/${key!.id}/revoke`), 409);
  });

  it('revokes an agent with all its keys after confirmation', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'doomed');
    const first = shownKey((await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf)))).text);
    const second = shownKey((await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf, { name: 'second' })))).text);
    const confirm = await agent.get(`/dashboard/agents/${agentId}/revoke`).expect(200);
    expect(confirm.text).to.include('2 active keys');
    await postForm(agent, `/dashboard/agents/${agentId}/revoke`, { csrf, confirm: 'yes' }).expect(303);
    expect((await app.services.keys.agents.get(agentId)).status).to.equal('revoked');
    for (const apiKey of [first, second]) expect((await useKey(apiKey)).body.error.code).to.equal('revoked_api_key');
    expect((await auditFor(app, agentId)).find((event) => event.action === 'agent.revoked')).to.include({ actor: actor() });
    const page = await agent.get(`/dashboard/agents/${agentId}`).expect(200);
    expect(page.text).not.to.include('New API key</a>');
  });

  it('creates an OAuth client with its secret shown once, then deletes it after confirmation', async () => {
    const res = await followReveal(agent, postForm(agent, '/dashboard/clients', { csrf, name: 'Web app', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: 'https://app.example/callback\nhttps://app.example/cb2', scopes: 'openid email read write offline_access' }));
    expectPage(res, 200);
    const secret = /<code class="secret" id="client-secret">([^<]+)<\/code>/.exec(res.text)![1]!;
    const clientId = /<code id="client-id">(cli_[A-Za-z0-9]+)<\/code>/.exec(res.text)![1]!;
    expect(res.text).to.include('It will not be shown again');
    const client = (await app.services.oidc.clients.get(clientId))!;
    expect(client.redirectUris).to.deep.equal(['https://app.example/callback', 'https://app.example/cb2']);
    expect(app.services.oidc.clients.secretMatches(client.secretHash!, secret)).to.equal(true);
    const list = await agent.get('/dashboard/clients').expect(200);
    expect(list.text).to.include('Web app').and.include(clientId).and.not.include(secret);
    expect(await dumpDatabase(app)).not.to.include(secret);
    expect((await auditFor(app, clientId))[0]).to.include({ action: 'client.created', actor: actor() });

    const publicClient = await followReveal(agent, postForm(agent, '/dashboard/clients', { csrf, name: 'SPA', grant_types: 'authorization_code', redirect_uris: 'https://spa.example/cb', public: '1' }));
    expectPage(publicClient, 200);
    expect(publicClient.text).to.include('public client: it has no secret').and.not.include('id="client-secret"');

    const confirm = await agent.get(`/dashboard/clients/${clientId}/delete`).expect(200);
    expect(confirm.text).to.include('Delete client');
    await postForm(agent, `/dashboard/clients/${clientId}/delete`, { csrf, confirm: 'yes' }).expect(303);
    expect(await app.services.oidc.clients.get(clientId)).to.equal(undefined);
    expect((await auditFor(app, clientId)).map((event) => [event.action, event.actor])).to.deep.include(['client.deleted', actor()]);
    const after = await agent.get('/dashboard/clients?done=client_deleted').expect(200);
    expect(after.text).to.include('The client was deleted.').and.not.include(clientId);
  });

  it('shows the audit log: who (with email), what, target, from where; limited and filterable by target', async () => {
    const agentId = await createAgentInPage(agent, csrf, 'audited');
    const page = await agent.get('/dashboard/audit').expect(200);
    // Rows of the same second may come in any order on MySQL (datetime has whole seconds): find ours.
    const rows = page.text.slice(page.text.indexOf('<tbody>')).split('</tr>');
    const row = rows.find((item) => item.includes(`?target=${agentId}`));
    expect(row).to.include('agent.created').and.include(user.email).and.include(actor()).and.match(/127\.0\.0\.1/);
    const filtered = await agent.get(`/dashboard/audit?target=${agentId}`).expect(200);
    expect((filtered.text.match(/<tr>/g) ?? []).length).to.equal(2); // header + one row
    const limited = await agent.get('/dashboard/audit?limit=50').expect(200);
    expect((limited.text.match(/<tr>/g) ?? []).length).to.be.at.most(51);
    expect(limited.text).to.include('<option value="50" selected>');
    const bogus = await agent.get('/dashboard/audit?target=%3Cb%3E&limit=999999').expect(200);
    expect(bogus.text).to.include('is not an agent, key, client or user ID').and.include('&lt;b&gt;').and.include('<option value="100" selected>');
  });
});
