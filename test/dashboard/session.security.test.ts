import { expect } from 'chai';
import { DashboardSession } from '../../src/db/entities/dashboard_session.js';
import { User } from '../../src/db/entities/user.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { dumpDatabase } from '../keys/helpers.js';
import {
  auditFor, createAgentInPage, createUser, csrfOf, expectPage, followReveal, hiddenValue, keyForm, postForm, signIn,
} from './helpers.js';

const CSRF_MESSAGE = 'security token is missing or wrong';

function setCookie(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const cookies = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  return cookies.find((cookie) => cookie.startsWith(`${name}=`));
}

describe('dashboard: sign-in, sessions and CSRF', () => {
  let app: TestApp;
  let admin: { id: string; email: string; password: string };
  before(async () => {
    app = await startTestApp();
    admin = await createUser(app);
  });
  after(async () => { await app.close(); });

  const sessionRows = () => app.services.database.dataSource.getRepository(DashboardSession).find();

  describe('unauthenticated', () => {
    for (const path of ['/dashboard', '/dashboard/agents', '/dashboard/clients', '/dashboard/audit', '/dashboard/agents/agt_x', '/dashboard/keys/key_x/revoke']) {
      it(`redirects GET ${path} to the sign-in page, coming back afterwards`, async () => {
        const res = await app.http().get(path).expect(303);
        expect(res.headers.location).to.equal(`/dashboard/login?next=${encodeURIComponent(path)}`);
      });
    }

    it('redirects a POST to the sign-in page and changes nothing', async () => {
      const before = (await app.services.keys.agents.list()).length;
      const res = await postForm(app.http(), '/dashboard/agents', { csrf: 'x', name: 'sneaky' }).expect(303);
      expect(res.headers.location).to.equal('/dashboard/login');
      expect(await app.services.keys.agents.list()).to.have.length(before);
    });

    it('answers an unknown dashboard path with a page, not JSON', async () => {
      const res = await app.http().get('/dashboard/nothing/here');
      expectPage(res, 404);
      expect(res.text).to.include('There is no dashboard page at /dashboard/nothing/here.');
    });
  });

  describe('signing in', () => {
    it('serves the sign-in form with a CSRF token bound to an HttpOnly, SameSite=Lax nonce cookie', async () => {
      const res = await app.http().get('/dashboard/login');
      expectPage(res, 200);
      expect(hiddenValue(res.text, 'csrf')).to.match(/^[A-Za-z0-9_-]{43}$/);
      const cookie = setCookie(res, 'keyport_dashboard_signin')!;
      expect(cookie).to.match(/path=\/dashboard/i).and.match(/httponly/i).and.match(/samesite=lax/i);
      expect(res.text).to.match(/<label for="email">Email<\/label>/).and.match(/<label for="password">Password<\/label>/);
    });

    it('signs an admin in: a random session cookie (HttpOnly, SameSite=Lax, not Secure over plain HTTP), stored only hashed', async () => {
      const agent = app.http();
      const form = await agent.get('/dashboard/login');
      const res = await postForm(agent, '/dashboard/login', { csrf: hiddenValue(form.text, 'csrf'), email: admin.email.toUpperCase(), password: admin.password }).expect(303);
      expect(res.headers.location).to.equal('/dashboard/agents');
      const cookie = setCookie(res, 'keyport_dashboard')!;
      expect(cookie).to.match(/^keyport_dashboard=[A-Za-z0-9_-]{43};/).and.match(/httponly/i).and.match(/samesite=lax/i).and.match(/path=\/dashboard/i);
      expect(cookie).not.to.match(/secure/i);
      const token = /^keyport_dashboard=([^;]+)/.exec(cookie)![1]!;
      const rows = await sessionRows();
      expect(rows.some((row) => row.userId === admin.id && row.tokenHash !== token)).to.equal(true);
      expect(await dumpDatabase(app)).not.to.include(token);
      await agent.get('/dashboard/agents').expect(200);
      const events = await auditFor(app, admin.id);
      expect(events.some((event) => event.action === 'dashboard.signed_in' && event.actor === `user:${admin.id}` && /127\.0\.0\.1/.test(event.ip ?? ''))).to.equal(true);
    });

    it('follows ?next only inside the dashboard', async () => {
      for (const [next, expected] of [['/dashboard/clients', '/dashboard/clients'], ['https://evil.example/', '/dashboard/agents'], ['//evil.example/x', '/dashboard/agents'], ['/dashboard//evil.example', '/dashboard/agents'], ['/oauth/authorize', '/dashboard/agents']] as const) {
        const agent = app.http();
        const form = await agent.get(`/dashboard/login?next=${encodeURIComponent(next)}`);
        const res = await postForm(agent, '/dashboard/login', { csrf: hiddenValue(form.text, 'csrf'), email: admin.email, password: admin.password, next }).expect(303);
        expect(res.headers.location, next).to.equal(expected);
      }
    });

    it('says "Incorrect email or password." for a wrong password and an unknown email alike, keeps the email, opens no session', async () => {
      const before = (await sessionRows()).length;
      for (const [email, password] of [[admin.email, 'wrong password'], ['nobody@example.com', admin.password], [admin.email, '']]) {
        const agent = app.http();
        const form = await agent.get('/dashboard/login');
        const res = await postForm(agent, '/dashboard/login', { csrf: hiddenValue(form.text, 'csrf'), email, password });
        expectPage(res, 400);
        expect(res.text).to.include('Incorrect email or password.');
        expect(res.text).to.include(`value="${email}"`);
        expect(setCookie(res, 'keyport_dashboard')).to.equal(undefined);
      }
      expect(await sessionRows()).to.have.length(before);
      const failures = (await app.services.audit.list({ limit: 100 })).filter((event) => event.action === 'dashboard.sign_in_failed');
      expect(failures.length).to.be.at.least(3);
      expect(JSON.stringify(failures)).not.to.include('wrong password');
    });

    it('slows password guessing: after 5 failures for an account, even the right password waits (429)', async () => {
      const victim = await createUser(app);
      const agent = app.http();
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const form = await agent.get('/dashboard/login');
        await postForm(agent, '/dashboard/login', { csrf: hiddenValue(form.text, 'csrf'), email: victim.email, password: `guess ${attempt}` }).expect(400);
      }
      const form = await agent.get('/dashboard/login');
      const res = await postForm(agent, '/dashboard/login', { csrf: hiddenValue(form.text, 'csrf'), email: victim.email, password: victim.password });
      expectPage(res, 429);
      expect(Number(res.headers['retry-after'])).to.be.greaterThan(0);
      expect(res.text).to.include('Too many failed sign-in attempts');
      expect(setCookie(res, 'keyport_dashboard')).to.equal(undefined);
    });

    it('refuses a sign-in without the form\'s CSRF token or nonce cookie (login CSRF)', async () => {
      const mine = app.http();
      const form = await mine.get('/dashboard/login');
      const token = hiddenValue(form.text, 'csrf');
      // Another browser (no nonce cookie, or its own) posting this browser's token.
      for (const attempt of [
        postForm(app.http(), '/dashboard/login', { csrf: token, email: admin.email, password: admin.password }),
        postForm(mine, '/dashboard/login', { csrf: 'forged', email: admin.email, password: admin.password }),
        postForm(mine, '/dashboard/login', { email: admin.email, password: admin.password }),
      ]) {
        const res = await attempt;
        expectPage(res, 403);
        expect(res.text).to.include(CSRF_MESSAGE);
        expect(setCookie(res, 'keyport_dashboard')).to.equal(undefined);
      }
    });

    it('sets Secure on the cookies when the request came over HTTPS (behind a trusted proxy)', async () => {
      const proxied = await startTestApp({ env: { TRUST_PROXY: 'true' } });
      try {
        const user = await createUser(proxied);
        const form = await proxied.http().get('/dashboard/login').set('X-Forwarded-Proto', 'https');
        expect(setCookie(form, 'keyport_dashboard_signin')).to.match(/secure/i);
        const nonce = /^keyport_dashboard_signin=([^;]+)/.exec(setCookie(form, 'keyport_dashboard_signin')!)![1]!;
        const res = await proxied.http().post('/dashboard/login').set('X-Forwarded-Proto', 'https').set('Cookie', `keyport_dashboard_signin=${nonce}`)
          .type('form').send(new URLSearchParams({ csrf: hiddenValue(form.text, 'csrf'), email: user.email, password: user.password }).toString())
          .expect(303);
        expect(setCookie(res, 'keyport_dashboard')).to.match(/secure/i).and.match(/httponly/i).and.match(/samesite=lax/i);
      } finally {
        await proxied.close();
      }
    });
  });

  describe('non-admin users', () => {
    it('refuses a user without the admin flag with a clear 403 page and no session', async () => {
      const user = await createUser(app, { admin: false });
      const agent = app.http();
      const form = await agent.get('/dashboard/login');
      const res = await postForm(agent, '/dashboard/login', { csrf: hiddenValue(form.text, 'csrf'), email: user.email, password: user.password });
      expectPage(res, 403);
      expect(res.text).to.include('for Keyport administrators only').and.include(user.email);
      expect(setCookie(res, 'keyport_dashboard')).to.equal(undefined);
      expect((await sessionRows()).some((row) => row.userId === user.id)).to.equal(false);
      await agent.get('/dashboard/agents').expect(303);
      expect((await auditFor(app, user.id)).map((event) => event.action)).to.include('dashboard.sign_in_refused');
    });

    it('shuts out an admin whose flag was taken away, on the next request', async () => {
      const user = await createUser(app);
      const agent = await signIn(app, user);
      await agent.get('/dashboard/agents').expect(200);
      await app.services.database.dataSource.getRepository(User).update({ id: user.id }, { isAdmin: false });
      const res = await agent.get('/dashboard/agents');
      expectPage(res, 403);
      expect(res.text).to.include('for Keyport administrators only');
      // Still signed in, so the page offers to sign out.
      expect(res.text).to.include('Sign out');
    });
  });

  describe('signing out and timeouts', () => {
    it('signs out for real: the row is gone and the old cookie no longer works', async () => {
      const user = await createUser(app);
      const agent = await signIn(app, user);
      const csrf = await csrfOf(agent);
      const cookie = (await sessionRows()).filter((row) => row.userId === user.id);
      expect(cookie).to.have.length(1);
      const res = await postForm(agent, '/dashboard/logout', { csrf }).expect(303);
      expect(res.headers.location).to.equal('/dashboard/login?notice=signed_out');
      expect(setCookie(res, 'keyport_dashboard')).to.match(/expires=Thu, 01 Jan 1970/i);
      expect((await sessionRows()).filter((row) => row.userId === user.id)).to.have.length(0);
      const page = await agent.get('/dashboard/login?notice=signed_out');
      expect(page.text).to.include('You have signed out.');
      expect((await auditFor(app, user.id)).map((event) => event.action)).to.include('dashboard.signed_out');
    });

    it('keeps a replayed cookie out after sign-out', async () => {
      const user = await createUser(app);
      const agent = await signIn(app, user);
      const csrf = await csrfOf(agent);
      // Capture the cookie, sign out, then replay it by hand.
      const jar = (agent as unknown as { jar: { getCookie(name: string, options: unknown): { value: string } | undefined } }).jar;
      const token = jar.getCookie('keyport_dashboard', { domain: '127.0.0.1', path: '/dashboard', secure: false, script: false })!.value;
      await postForm(agent, '/dashboard/logout', { csrf }).expect(303);
      const replay = await app.http().get('/dashboard/agents').set('Cookie', `keyport_dashboard=${token}`).expect(303);
      expect(replay.headers.location).to.match(/^\/dashboard\/login/);
    });

    it('refuses to sign out without the CSRF token (the session stays)', async () => {
      const user = await createUser(app);
      const agent = await signIn(app, user);
      const res = await postForm(agent, '/dashboard/logout', { csrf: 'nope' });
      expectPage(res, 403);
      await agent.get('/dashboard/agents').expect(200);
    });

    it('ends a session idle for longer than the timeout, and one past its absolute end', async () => {
      const sessions = app.services.database.dataSource.getRepository(DashboardSession);
      for (const change of [
        { lastSeenAt: new Date(Date.now() - 31 * 60_000) },
        { expiresAt: new Date(Date.now() - 1000) },
      ]) {
        const user = await createUser(app);
        const agent = await signIn(app, user);
        await agent.get('/dashboard/agents').expect(200);
        await sessions.update({ userId: user.id }, change);
        const res = await agent.get('/dashboard/agents').expect(303);
        expect(res.headers.location).to.equal('/dashboard/login?next=%2Fdashboard%2Fagents');
        expect(await sessions.findBy({ userId: user.id })).to.have.length(0);
      }
    });

    it('opens a new session id at every sign-in and ends the previous one of that browser', async () => {
      const user = await createUser(app);
      const agent = await signIn(app, user);
      const first = (await sessionRows()).filter((row) => row.userId === user.id).map((row) => row.id);
      const form = await agent.get('/dashboard/login');
      // Already signed in: the sign-in page sends the admin on.
      expect(form.status).to.equal(303);
      const fresh = await app.http().get('/dashboard/login');
      const nonce = /^keyport_dashboard_signin=([^;]+)/.exec(setCookie(fresh, 'keyport_dashboard_signin')!)![1]!;
      await agent.post('/dashboard/login').set('Cookie', `keyport_dashboard_signin=${nonce}`).type('form')
        .send(new URLSearchParams({ csrf: hiddenValue(fresh.text, 'csrf'), email: user.email, password: user.password }).toString());
      const now = (await sessionRows()).filter((row) => row.userId === user.id).map((row) => row.id);
      expect(now).to.have.length(1);
      expect(now[0]).not.to.equal(first[0]);
    });
  });

  describe('CSRF on every form', () => {
    let agent: ReturnType<TestApp['http']>;
    let csrf: string;
    let agentId: string;
    let keyId: string;
    let clientId: string;
    before(async () => {
      agent = await signIn(app, admin);
      csrf = await csrfOf(agent);
      agentId = await createAgentInPage(agent, csrf, 'csrf-target');
      keyId = (await app.services.keys.apiKeys.create(agentId, {}, { actor: 'test' })).key.id;
      clientId = (await app.services.oidc.clients.create({ name: 'csrf client', grantTypes: ['client_credentials'] })).client.id;
    });

    const forms = (): Array<[string, Record<string, string | string[]>]> => [
      ['/dashboard/agents', { name: 'forged agent' }],
      [`/dashboard/agents/${agentId}/keys`, keyForm('') as Record<string, string>],
      [`/dashboard/keys/${keyId}/rotate`, { grace: '0' }],
      [`/dashboard/keys/${keyId}/revoke`, { confirm: 'yes' }],
      [`/dashboard/agents/${agentId}/revoke`, { confirm: 'yes' }],
      ['/dashboard/clients', { name: 'forged client', grant_types: 'client_credentials' }],
      [`/dashboard/clients/${clientId}/delete`, { confirm: 'yes' }],
      ['/dashboard/logout', {}],
    ];

    it('refuses each form with a missing, wrong or other session\'s token (403 page) and changes nothing', async () => {
      const other = await signIn(app, await createUser(app));
      const othersToken = await csrfOf(other);
      const snapshot = async () => JSON.stringify({
        agents: (await app.services.keys.agents.list()).map((item) => [item.id, item.status]),
        keys: (await app.services.keys.apiKeys.list({ limit: 1000 })).map((item) => [item.id, item.status, item.replacedBy]),
        clients: (await app.services.oidc.clients.list()).map((item) => item.id),
      });
      const before = await snapshot();
      for (const [path, fields] of forms()) {
        for (const token of [undefined, '', 'x'.repeat(43), othersToken, csrf.slice(0, -1)]) {
          const res = await postForm(agent, path, { ...fields, csrf: token });
          expectPage(res, 403);
          expect(res.text, `${path} with ${String(token)}`).to.include(CSRF_MESSAGE);
        }
      }
      expect(await snapshot()).to.equal(before);
      // And the session survived all of it.
      await agent.get('/dashboard/agents').expect(200);
    });

    it('ties the token to the session: a new sign-in gets a new token', async () => {
      const again = await signIn(app, admin);
      expect(await csrfOf(again)).not.to.equal(csrf);
    });
  });

  describe('page headers and escaping', () => {
    it('sends a CSP that allows only the nonce\'d style and script, forbids framing, and no caching', async () => {
      const agent = await signIn(app, admin);
      const csrf = await csrfOf(agent);
      const agentId = await createAgentInPage(agent, csrf, 'headers');
      const res = await followReveal(agent, postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf)));
      expectPage(res, 200);
      const csp = res.headers['content-security-policy'] as string;
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1]!;
      expect(csp).to.include("default-src 'none'").and.include("frame-ancestors 'none'").and.include(`style-src 'nonce-${nonce}'`).and.include("form-action 'self'");
      expect(csp).not.to.include('unsafe-inline');
      expect(res.headers['x-frame-options']).to.equal('DENY');
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['referrer-policy']).to.equal('no-referrer');
      const scripts = res.text.match(/<script[^>]*>/g) ?? [];
      expect(scripts).to.deep.equal([`<script nonce="${nonce}">`]);
      expect(res.text).to.include(`<style nonce="${nonce}">`);
      expect(res.text).not.to.match(/ on[a-z]+="/);
      // A new nonce per response.
      const again = await agent.get('/dashboard/agents');
      expect(again.headers['content-security-policy']).not.to.include(nonce);
    });

    it('escapes everything it prints', async () => {
      const agent = await signIn(app, admin);
      const csrf = await csrfOf(agent);
      const nasty = '<script>alert("x")</script>&';
      const agentId = await createAgentInPage(agent, csrf, nasty);
      for (const path of [`/dashboard/agents/${agentId}`, '/dashboard/agents', `/dashboard/agents?q=${encodeURIComponent('<script>')}`, '/dashboard/audit']) {
        const res = await agent.get(path).expect(200);
        expect(res.text, path).not.to.include('<script>alert');
        expect(res.text, path).to.include('&lt;script&gt;');
      }
    });
  });
});
