import { expect } from 'chai';
import type supertest from 'supertest';
import type { TestApp } from '../../support/app.js';
import { REDIRECT_URI, client, createUser, csrfOf, discover, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: login and consent pages', () => {
  let app: TestApp;
  let web: RegisteredClient;
  let user: { id: string; email: string; password: string };
  before(async () => {
    app = await startOidcApp();
    web = await registerClient(app, { name: 'Tom & Jerry <Shop>', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    user = await createUser(app, 'ada@example.com', 'correct horse battery');
  });
  after(async () => { await app.close(); });

  function follow(agent: supertest.Agent, location: string): supertest.Test {
    const url = new URL(location, app.config.issuer);
    return agent.get(`${url.pathname}${url.search}`);
  }

  /** Starts an authorization request and lands on the login page with a fresh browser. */
  async function openLogin(extra: Record<string, string> = {}): Promise<{ agent: supertest.Agent; path: string; html: string; status: number; headers: Record<string, string> }> {
    const agent = app.http();
    const config = await discover(app, web);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid email', state: 'st', nonce: 'n',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256', ...extra,
    });
    const start = await agent.get(`${url.pathname}${url.search}`);
    expect(start.status).to.equal(303);
    const path = start.headers.location as string;
    expect(path).to.match(/^\/interaction\/[A-Za-z0-9_-]+$/);
    const page = await agent.get(path);
    return { agent, path, html: page.text, status: page.status, headers: page.headers };
  }

  it('renders an accessible, script-free login form', async () => {
    const { html, status, headers } = await openLogin();
    expect(status).to.equal(200);
    expect(headers['content-type']).to.match(/^text\/html/);
    expect(html).to.match(/<html lang="en">/);
    expect(html).to.include('name="viewport"');
    expect(html).to.include('<label for="email">');
    expect(html).to.include('<label for="password">');
    expect(html).to.match(/<input id="password" name="password" type="password" autocomplete="current-password"/);
    expect(html).not.to.match(/<script/i);
    expect(headers['content-security-policy']).to.include("default-src 'none'");
    expect(headers['x-frame-options']).to.equal('DENY');
    expect(headers['cache-control']).to.include('no-store');
  });

  it('escapes everything it shows (client name, login_hint)', async () => {
    const { html } = await openLogin({ login_hint: '"><script>alert(1)</script>' });
    expect(html).to.include('Tom &amp; Jerry &lt;Shop&gt;');
    expect(html).not.to.include('<script>alert(1)</script>');
    expect(html).to.include('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('says clearly when the password is wrong, and the same for an unknown email', async () => {
    for (const email of [user.email, 'nobody@example.com']) {
      const { agent, path, html } = await openLogin();
      const res = await agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email, password: 'wrong password' });
      expect(res.status).to.equal(400);
      expect(res.headers).not.to.have.property('location');
      expect(res.text).to.include('Incorrect email or password.');
      expect(res.text).to.include('role="alert"');
      expect(res.text, 'the email is kept in the form').to.include(`value="${email}"`);
    }
    expect(app.logs.join('\n')).not.to.include('wrong password');
  });

  it('refuses a login without the CSRF token or with another interaction\'s token', async () => {
    const first = await openLogin();
    const second = await openLogin();
    const missing = await first.agent.post(`${first.path}/login`).type('form').send({ email: user.email, password: user.password });
    expect(missing.status).to.equal(400);
    expect(missing.headers).not.to.have.property('location');
    const foreign = await first.agent.post(`${first.path}/login`).type('form').send({ csrf: csrfOf(second.html), email: user.email, password: user.password });
    expect(foreign.status).to.equal(403);
    expect(foreign.text).to.include('did not come from this site');
    expect(foreign.headers).not.to.have.property('location');
  });

  it('refuses a form posted without the interaction cookie (another browser, an attacker page)', async () => {
    const { path, html } = await openLogin();
    const res = await app.http().post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email: user.email, password: user.password });
    expect(res.status).to.equal(400);
    expect(res.text).to.include('no longer valid');
  });

  it('answers unknown interactions and garbage bodies with a page, never a 500', async () => {
    expect((await app.http().get('/interaction/nope')).status).to.equal(400);
    const { agent, path, html } = await openLogin();
    const cases = [
      agent.post(`${path}/login`).type('json').send({ csrf: csrfOf(html), email: user.email, password: user.password, admin: true }),
      agent.post(`${path}/login`).type('json').send('{"csrf":'),
      agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email: ['a', 'b'], password: 'x' }),
      agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email: 'x'.repeat(300), password: 'x' }),
      agent.post(`${path}/login`).set('Content-Type', 'text/plain').send('hello'),
      agent.post(`${path}/consent`).type('form').send({ csrf: csrfOf(html), decision: 'allow' }),
    ];
    for (const request of cases) {
      const res = await request;
      expect(res.status, res.text.slice(0, 200)).to.be.within(400, 499);
      expect(res.headers).not.to.have.property('location');
    }
  });

  it('slows brute force: after 5 failures the page answers 429, even for the right password', async () => {
    const victim = await createUser(app, 'victim@example.com', 'the real password');
    const { agent, path, html } = await openLogin();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const res = await agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email: victim.email, password: `guess ${attempt}` });
      expect(res.status).to.equal(400);
    }
    const blocked = await agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email: victim.email, password: victim.password });
    expect(blocked.status).to.equal(429);
    expect(Number(blocked.headers['retry-after'])).to.be.above(0);
    expect(blocked.text).to.include('Too many failed sign-in attempts');
    expect(blocked.headers).not.to.have.property('location');
    expect((await app.http().get('/metrics')).text).to.match(/keyport_rate_limit_rejections_total\{limiter="login"\} 1/);
    // Another account from the same address is not locked out by this one.
    const other = await openLogin();
    const ok = await other.agent.post(`${other.path}/login`).type('form').send({ csrf: csrfOf(other.html), email: user.email, password: user.password });
    expect(ok.status).to.equal(303);
  });

  it('lets the user cancel: access_denied goes back to the client', async () => {
    const { agent, path, html } = await openLogin();
    const res = await agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email: '', password: '', cancel: '1' });
    expect(res.status).to.equal(303);
    const resumed = await follow(agent, res.headers.location);
    const callback = new URL(resumed.headers.location);
    expect(callback.searchParams.get('error')).to.equal('access_denied');
  });

  it('shows the consent page with the client, the user and what is asked, also escaped', async () => {
    const { agent, path, html } = await openLogin({ scope: 'openid email read' });
    const login = await agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(html), email: user.email, password: user.password });
    const resumed = await follow(agent, login.headers.location);
    const consent = await follow(agent, resumed.headers.location);
    expect(consent.status).to.equal(200);
    expect(consent.text).to.include('Tom &amp; Jerry &lt;Shop&gt;');
    expect(consent.text).to.include(user.email);
    for (const scope of ['openid', 'email', 'read']) expect(consent.text).to.include(`<code>${scope}</code>`);
    expect(consent.text).to.match(/<button type="submit" class="primary" name="decision" value="allow"/);
    expect(consent.headers['x-frame-options']).to.equal('DENY');
  });
});
