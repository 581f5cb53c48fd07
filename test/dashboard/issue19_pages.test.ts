import { expect } from 'chai';
import type supertest from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  auditFor, createAgentInPage, createUser, csrfOf, decodeEntities, expectPage, followReveal, keyForm, postForm, shownKey, signIn,
} from './helpers.js';

/**
 * The dashboard fixes of issue 19 part 5, over HTTP: the one-time reveal (a reload never makes a
 * second key), ending an API-key session, the audit log's paging and filters, breadcrumbs, the
 * favicon, empty states. The browser side is in browser.test.ts.
 */
describe('dashboard: one-time reveal, sessions, audit paging and filters, page furniture', () => {
  let app: TestApp;
  let user: { id: string; email: string; password: string };
  let agent: supertest.Agent;
  let csrf: string;

  before(async () => {
    app = await startTestApp();
    user = await createUser(app);
    agent = await signIn(app, user);
    csrf = await csrfOf(agent);
  });
  after(async () => { await app.close(); });

  describe('POST/redirect/GET reveal', () => {
    it('shows a new key once; reloading says "already shown" with a next step and makes no second key', async () => {
      const agentId = await createAgentInPage(agent, csrf, 'reveal');
      const post = await postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf));
      expect(post.status).to.equal(303);
      const location = post.headers.location as string;
      const first = await agent.get(location);
      expectPage(first, 200);
      const apiKey = shownKey(first.text);
      expect(location).not.to.include(apiKey);
      const reload = await agent.get(location);
      expectPage(reload, 200);
      expect(reload.text).to.include('This key was already shown').and.include('Rotate it to get a new key').and.not.include(apiKey);
      expect(reload.text).not.to.match(/ak_(?:live|test)_[A-Za-z0-9]{32}/);
      expect(await app.services.keys.apiKeys.list({ agentId })).to.have.length(1);
    });

    it('shows the key only to the dashboard session that made it', async () => {
      const agentId = await createAgentInPage(agent, csrf, 'reveal-other');
      const post = await postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf));
      const other = await signIn(app, await createUser(app));
      const stolen = await other.get(post.headers.location as string);
      expectPage(stolen, 200);
      expect(stolen.text).to.include('already shown').and.not.match(/ak_(?:live|test)_[A-Za-z0-9]{32}/);
      // The maker still gets it once.
      shownKey((await agent.get(post.headers.location as string)).text);
    });

    it('a rotation redirects to a one-time page too; a client secret likewise', async () => {
      const agentId = await createAgentInPage(agent, csrf, 'reveal-rotate');
      await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf)));
      const [key] = await app.services.keys.apiKeys.list({ agentId });
      const rotated = await followReveal(agent, postForm(agent, `/dashboard/keys/${key!.id}/rotate`, { csrf, grace: '1h' }));
      expect(rotated.text).to.include('Your rotated API key');
      shownKey(rotated.text);
      expect(await app.services.keys.apiKeys.list({ agentId })).to.have.length(2);

      const post = await postForm(agent, '/dashboard/clients', { csrf, name: 'Reveal client', grant_types: ['client_credentials'], redirect_uris: '', scopes: '' });
      const location = post.headers.location as string;
      expect((await agent.get(location)).text).to.match(/<code class="secret" id="client-secret">[^<]+<\/code>/);
      const again = await agent.get(location);
      expect(again.text).to.include('This client secret was already shown').and.not.include('id="client-secret"');
      expect((await app.services.oidc.clients.list()).filter((client) => client.name === 'Reveal client')).to.have.length(1);
    });
  });

  describe('ending an API-key session', () => {
    it('ends a session from the agent page: its token stops working and the audit trail names the user', async () => {
      const agentId = await createAgentInPage(agent, csrf, 'sessions');
      const apiKey = shownKey((await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf)))).text);
      const login = await app.http().post('/auth/login').send({ api_key: apiKey, session_id: 'worker-7' }).expect(200);
      const page = await agent.get(`/dashboard/agents/${agentId}`).expect(200);
      const action = /action="(\/dashboard\/agents\/[^"]+\/sessions\/(ses_[A-Za-z0-9]+)\/end)"/.exec(page.text);
      expect(action, 'an End session form').to.not.equal(null);
      const res = await postForm(agent, decodeEntities(action![1]!), { csrf }).expect(303);
      expect(res.headers.location).to.include('done=session_ended');
      const after = await agent.get(res.headers.location as string).expect(200);
      expect(after.text).to.include('The session was ended').and.include('No active sessions');
      const introspected = await app.http().get('/auth/test').set('Authorization', `Bearer ${login.body.access_token}`);
      expect(introspected.status).to.equal(401);
      const [event] = await auditFor(app, action![2]!);
      expect(event).to.include({ action: 'session.ended', actor: `user:${user.id}` });

      // Ending it again, or another agent's session id, changes nothing and says so.
      const again = await postForm(agent, decodeEntities(action![1]!), { csrf }).expect(303);
      expect(again.headers.location).to.include('done=session_gone');
      // Without the CSRF token: refused.
      expectPage(await postForm(agent, decodeEntities(action![1]!), { csrf: 'x' }), 403);
    });
  });

  describe('audit log', () => {
    before(async () => {
      for (let i = 0; i < 7; i++) await app.services.audit.record({ action: 'test.paged', actor: `user:${user.id}`, targetType: 'agent', targetId: `agt_page${i}`, details: { n: i, reason: 'paging_test' } });
      await app.services.audit.record({ action: 'test.other', actor: 'cli', details: { n: 99 } });
    });

    it('pages with "Older entries" links over every row exactly once', async () => {
      const seen: string[] = [];
      let path: string | undefined = '/dashboard/audit?action=test.paged&limit=50';
      // A page size the form offers (50) is more than 7: one page; the API-level page size is checked below.
      const res = await agent.get(path).expect(200);
      expect(res.text).to.include('agt_page0').and.include('agt_page6').and.not.include('rel="next"');
      const { events, more } = await app.services.audit.page({ action: 'test.paged', limit: 3 });
      expect(events).to.have.length(3);
      expect(more).to.equal(true);
      let before = { at: events.at(-1)!.occurredAt, id: events.at(-1)!.id };
      seen.push(...events.map((event) => event.targetId!));
      for (;;) {
        const page = await app.services.audit.page({ action: 'test.paged', limit: 3, before });
        seen.push(...page.events.map((event) => event.targetId!));
        if (!page.more) break;
        before = { at: page.events.at(-1)!.occurredAt, id: page.events.at(-1)!.id };
      }
      expect(new Set(seen).size).to.equal(7);
      expect(seen).to.have.length(7);
      path = undefined;
    });

    it('follows the page links in the HTML', async () => {
      for (let i = 0; i < 55; i++) await app.services.audit.record({ action: 'test.many', actor: 'cli', targetType: 'agent', targetId: `agt_many${i}` });
      const first = await agent.get('/dashboard/audit?action=test.many&limit=50').expect(200);
      const next = /href="([^"]+)" rel="next"/.exec(first.text);
      expect(next, 'an Older entries link').to.not.equal(null);
      const second = await agent.get(decodeEntities(next![1]!)).expect(200);
      const ids = (html: string) => [...html.matchAll(/>(agt_many\d+)</g)].map((match) => match[1]);
      expect(ids(first.text)).to.have.length(50);
      expect(ids(second.text)).to.have.length(5);
      expect(new Set([...ids(first.text), ...ids(second.text)]).size).to.equal(55);
      expect(second.text).to.include('Newest entries');
    });

    it('filters by action, by who (an email), and by date; shows emails and readable details', async () => {
      const byEmail = await agent.get(`/dashboard/audit?actor=${encodeURIComponent(user.email)}&action=test.paged`).expect(200);
      expect(byEmail.text).to.include('agt_page3').and.include(user.email).and.not.include(`>user:${user.id}<`);
      // Details are label/value pairs, not JSON.
      expect(byEmail.text).to.include('<dt>reason</dt><dd>paging_test</dd>').and.not.include('{&#34;n&#34;');
      const cli = await agent.get('/dashboard/audit?actor=cli&action=test.other').expect(200);
      expect(cli.text).to.include('the command line').and.not.include('agt_page');
      const today = new Date().toISOString().slice(0, 10);
      const dated = await agent.get(`/dashboard/audit?action=test.paged&from=${today}&to=${today}`).expect(200);
      expect(dated.text).to.include('agt_page0');
      const past = await agent.get('/dashboard/audit?action=test.paged&from=2000-01-01&to=2000-01-02').expect(200);
      expect(past.text).to.include('No recorded actions match these filters').and.include('Show every action');
      const nobody = await agent.get('/dashboard/audit?actor=nobody%40example.com').expect(200);
      expect(nobody.text).to.include('No recorded actions match');
    });

    it('answers bad filter values with a 400 page in the dashboard style, never a 500', async () => {
      for (const query of ['from=2026-02-30', 'from=yesterday', 'to=2026-01-01&from=2026-02-01', 'action=%3Cscript%3E', 'actor=%22%3E%3Cscript%3E', 'before=junk', 'before=2026-01-01T00:00:00.000Z~nope', 'action=a&action=b']) {
        const res = await agent.get(`/dashboard/audit?${query}`);
        expectPage(res, 400);
        expect(res.text, query).to.include('Keyport dashboard').and.not.include('<script>');
      }
    });
  });

  describe('page furniture', () => {
    it('every page below a section has the same breadcrumbs; the favicon is served', async () => {
      const agentId = await createAgentInPage(agent, csrf, 'crumbs');
      await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf)));
      const [key] = await app.services.keys.apiKeys.list({ agentId });
      for (const path of [`/dashboard/agents/${agentId}`, `/dashboard/agents/${agentId}/keys/new`, `/dashboard/keys/${key!.id}`, `/dashboard/keys/${key!.id}/rotate`, `/dashboard/keys/${key!.id}/revoke`, `/dashboard/agents/${agentId}/revoke`]) {
        const res = await agent.get(path).expect(200);
        expect(res.text, path).to.include('<nav aria-label="Breadcrumb" class="crumbs">').and.include('href="/dashboard/agents">Agents</a>');
        expect(res.text, path).to.include('href="/dashboard/favicon.svg"');
      }
      const icon = await app.http().get('/dashboard/favicon.svg').expect(200);
      expect(icon.headers['content-type']).to.match(/image\/svg\+xml/);
    });

    it('an agent without keys says how to make the first one', async () => {
      const agentId = await createAgentInPage(agent, csrf, 'empty');
      const res = await agent.get(`/dashboard/agents/${agentId}`).expect(200);
      expect(res.text).to.include('Create its first API key').and.include('No active sessions');
    });
  });
});
