import { expect } from 'chai';
import type supertest from 'supertest';
import type { TestApp } from '../support/app.js';
import { REDIRECT_URI } from '../oidc/support.js';
import { auditFor, createUser, csrfOf, decodeEntities, expectPage, postForm, signIn } from '../dashboard/helpers.js';
import { startMcpKeyport } from './support.js';

describe('mcp: the dashboard shows metadata and dynamically registered clients', () => {
  let app: TestApp;
  let agent: supertest.Agent;
  let csrf: string;
  const url = 'https://agents.example.com/mcp/client.json';

  before(async () => {
    app = await startMcpKeyport({ env: { REGISTRATION_POLICY: 'open-public' } });
    agent = await signIn(app, await createUser(app));
    csrf = await csrfOf(agent);
    await app.services.oidc.metadataDocuments.store.recordUse(url, 'Example <MCP> Client');
    const registered = await app.http().post('/oauth/register').send({ client_name: 'Registered agent', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });
    expect(registered.status).to.equal(201);
  });
  after(async () => { await app?.close(); });

  it('lists both kinds with URL, host, use and expiry, linked from the navigation', async () => {
    const res = await agent.get('/dashboard/agent-clients');
    expectPage(res, 200);
    const text = decodeEntities(res.text);
    expect(text).to.include(url).and.include('agents.example.com').and.include('Example <MCP> Client').and.include('active');
    expect(res.text).not.to.include('Example <MCP>'); // escaped
    expect(text).to.include('Registered agent').and.include('open-public');
    expect((await agent.get('/dashboard/agents')).text).to.include('href="/dashboard/agent-clients"');
  });

  it('blocks after confirmation (audited) and unblocks', async () => {
    const confirm = await agent.get(`/dashboard/agent-clients/block?url=${encodeURIComponent(url)}`);
    expectPage(confirm, 200);
    expect(decodeEntities(confirm.text)).to.include('tokens stop working at once');
    const blocked = await postForm(agent, `/dashboard/agent-clients/block?url=${encodeURIComponent(url)}`, { csrf, confirm: 'yes' });
    expect(blocked.status).to.equal(303);
    expect(await app.services.oidc.metadataDocuments.store.isBlocked(url)).to.equal(true);
    expect((await auditFor(app, url)).map((event) => event.action)).to.include('client.blocked');
    expect(decodeEntities((await agent.get('/dashboard/agent-clients')).text)).to.include('blocked');
    await postForm(agent, `/dashboard/agent-clients/unblock?url=${encodeURIComponent(url)}`, { csrf, confirm: 'yes' }).expect(303);
    expect(await app.services.oidc.metadataDocuments.store.isBlocked(url)).to.equal(false);
  });

  it('refuses a block without the CSRF token', async () => {
    const res = await postForm(agent, `/dashboard/agent-clients/block?url=${encodeURIComponent(url)}`, { confirm: 'yes' });
    expect(res.status).to.equal(403);
    expect(await app.services.oidc.metadataDocuments.store.isBlocked(url)).to.equal(false);
  });
});
