import { expect } from 'chai';
import type supertest from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { hiddenValue } from '../dashboard/helpers.js';
import { REDIRECT_URI, client, createUser, csrfOf, discover, registerClient, startOidcApp, type RegisteredClient } from '../oidc/support.js';
import { randomPrefix, sharedRedis } from '../ratelimit/support.js';

/**
 * Password sign-ins (OAuth login page and dashboard): the guessing brake counts each attempt
 * atomically before bcrypt (audit MEDIUM 1: 30 parallel wrong passwords all reached bcrypt and
 * none got 429), and RATE_LIMIT_LOGIN_PER_IP applies to every attempt (audit: documented, wired to
 * no route; 35 correct sign-ins a minute all passed).
 */

/**
 * Counts how many attempts reach the password check (bcrypt) of this instance, from zero on each
 * call. The tests hash with cost 4 (~1 ms); each check is held for 100 ms, about what
 * production's cost 12 takes, so parallel attempts overlap as they do in production.
 */
function countPasswordChecks(app: TestApp): { count: number } {
  const installed = counters.get(app);
  if (installed) {
    installed.count = 0;
    return installed;
  }
  const { users } = app.services.oidc;
  const check = users.verifyPassword.bind(users);
  const counter = { count: 0 };
  users.verifyPassword = async (email: string, password: string) => {
    counter.count += 1;
    await new Promise((resolve) => setTimeout(resolve, 100));
    return check(email, password);
  };
  counters.set(app, counter);
  return counter;
}

const counters = new WeakMap<TestApp, { count: number }>();

function statuses(responses: ReadonlyArray<{ status: number }>): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** A browser on the OAuth login page of a fresh authorization request. */
async function openLogin(app: TestApp, web: RegisteredClient, agent: supertest.Agent = app.http()): Promise<{ agent: supertest.Agent; path: string; csrf: string }> {
  const config = await discover(app, web);
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st', nonce: 'n',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const start = await agent.get(`${url.pathname}${url.search}`);
  expect(start.status).to.equal(303);
  const path = start.headers.location as string;
  const page = await agent.get(path).expect(200);
  return { agent, path, csrf: csrfOf(page.text) };
}

/** A browser on the dashboard's sign-in form. */
async function openDashboardSignIn(app: TestApp, headers: Record<string, string> = {}): Promise<{ agent: supertest.Agent; csrf: string }> {
  const agent = app.http();
  const form = await agent.get('/dashboard/login').set(headers).expect(200);
  return { agent, csrf: hiddenValue(form.text, 'csrf') };
}

describe('security: password guessing on the sign-in pages', () => {
  let app: TestApp;
  let web: RegisteredClient;
  before(async () => {
    app = await startOidcApp({ env: { TRUST_PROXY: 'true' } });
    web = await registerClient(app, { grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
  });
  after(async () => { await app.close(); });

  it('OAuth login page: of 30 parallel wrong passwords for one account, 5 reach bcrypt and 25 get 429', async () => {
    const victim = await createUser(app, 'parallel-oauth@example.com', 'the real password');
    const checks = countPasswordChecks(app);
    const { agent, path, csrf } = await openLogin(app, web);
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => agent.post(`${path}/login`).set('X-Forwarded-For', '198.51.100.10')
      .type('form').send({ csrf, email: victim.email, password: `guess ${i}` })));
    expect(statuses(responses)).to.deep.equal({ 400: 5, 429: 25 });
    expect(checks.count, 'attempts that reached the password check').to.equal(5);
    const refused = responses.find((res) => res.status === 429)!;
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 15 * 60);
    expect(refused.text).to.include('Too many failed sign-in attempts');
    // The right password is refused too until the window passes, without being checked.
    const blocked = await agent.post(`${path}/login`).set('X-Forwarded-For', '198.51.100.10').type('form').send({ csrf, email: victim.email, password: victim.password });
    expect(blocked.status).to.equal(429);
    expect(checks.count).to.equal(5);
  });

  it('dashboard sign-in: the same, 5 of 30 parallel guesses are checked', async () => {
    const victim = await createUser(app, 'parallel-dashboard@example.com', 'the real password');
    const checks = countPasswordChecks(app);
    const { agent, csrf } = await openDashboardSignIn(app, { 'X-Forwarded-For': '198.51.100.11' });
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => agent.post('/dashboard/login').set('X-Forwarded-For', '198.51.100.11')
      .type('form').send({ csrf, email: victim.email, password: `guess ${i}` })));
    expect(statuses(responses)).to.deep.equal({ 400: 5, 429: 25 });
    expect(checks.count).to.equal(5);
    expect(responses.find((res) => res.status === 429)!.text).to.include('Too many failed sign-in attempts');
  });

  it('counts IPv6 callers per /64: hopping addresses inside one /64 does not reset the count', async () => {
    const victim = await createUser(app, 'ipv6@example.com', 'the real password');
    const { agent, path, csrf } = await openLogin(app, web);
    const attempt = (address: string, password: string) => agent.post(`${path}/login`).set('X-Forwarded-For', address).type('form').send({ csrf, email: victim.email, password });
    for (let i = 1; i <= 5; i += 1) expect((await attempt(`2001:db8:5:7::${i}`, `guess ${i}`)).status).to.equal(400);
    expect((await attempt('2001:db8:5:7:ffff:ffff:ffff:fffe', 'guess 6')).status).to.equal(429);
    // Another /64 is another caller.
    expect((await attempt('2001:db8:5:8::1', victim.password)).status).to.equal(303);
  });

  it('a correct password takes back its attempt: it does not count towards the 5 failures', async () => {
    const user = await createUser(app, 'steady@example.com', 'the real password');
    for (let i = 0; i < 4; i += 1) {
      const { agent, path, csrf } = await openLogin(app, web);
      expect((await agent.post(`${path}/login`).set('X-Forwarded-For', '198.51.100.12').type('form').send({ csrf, email: user.email, password: user.password })).status).to.equal(303);
    }
    const { agent, path, csrf } = await openLogin(app, web);
    for (let i = 0; i < 5; i += 1) {
      expect((await agent.post(`${path}/login`).set('X-Forwarded-For', '198.51.100.12').type('form').send({ csrf, email: user.email, password: `guess ${i}` })).status).to.equal(400);
    }
  });
});

describe('security: RATE_LIMIT_LOGIN_PER_IP on the sign-in pages', () => {
  let app: TestApp;
  let web: RegisteredClient;
  before(async () => {
    app = await startOidcApp({ env: { TRUST_PROXY: 'true', RATE_LIMIT_LOGIN_PER_IP: '4' } });
    web = await registerClient(app, { grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
  });
  after(async () => { await app.close(); });

  it('OAuth login page: correct sign-ins beyond the per-address limit get 429 with the rate-limit fields', async () => {
    const user = await createUser(app, 'busy-oauth@example.com', 'the real password');
    const results: supertest.Response[] = [];
    for (let i = 0; i < 6; i += 1) {
      const { agent, path, csrf } = await openLogin(app, web);
      results.push(await agent.post(`${path}/login`).set('X-Forwarded-For', '203.0.113.40').type('form').send({ csrf, email: user.email, password: user.password }));
    }
    expect(results.map((res) => res.status)).to.deep.equal([303, 303, 303, 303, 429, 429]);
    const refused = results[4]!;
    expect(refused.text).to.include('Too many sign-in attempts from your address');
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 60);
    expect(refused.headers['ratelimit-policy']).to.equal('"login_ip";q=4;w=60');
    expect(results[0]!.headers['x-ratelimit-remaining']).to.equal('3');
    // Another address is not affected.
    const other = await openLogin(app, web);
    expect((await other.agent.post(`${other.path}/login`).set('X-Forwarded-For', '203.0.113.41').type('form').send({ csrf: other.csrf, email: user.email, password: user.password })).status).to.equal(303);
    expect((await app.http().get('/metrics')).text).to.match(/keyport_rate_limit_rejections_total\{limiter="login_ip"\} 2/);
  });

  it('dashboard sign-in: the same limit, shared with the OAuth login page', async () => {
    const admin = await app.services.oidc.users.create({ email: 'busy-dashboard@example.com', password: 'the real password', isAdmin: true });
    const address = { 'X-Forwarded-For': '203.0.113.42' };
    const { agent, path, csrf } = await openLogin(app, web);
    expect((await agent.post(`${path}/login`).set(address).type('form').send({ csrf, email: admin.email, password: 'the real password' })).status).to.equal(303);
    const codes: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const page = await openDashboardSignIn(app, address);
      codes.push((await page.agent.post('/dashboard/login').set(address).type('form').send({ csrf: page.csrf, email: admin.email, password: 'the real password' })).status);
    }
    expect(codes).to.deep.equal([303, 303, 303, 429]);
  });
});

describe('security: the sign-in limits hold across instances sharing Redis', function () {
  this.timeout(30_000);
  let redis: { url: string; stop(): Promise<void> } | undefined;
  let a: TestApp;
  let b: TestApp;
  before(async function () {
    redis = await sharedRedis();
    if (!redis) {
      console.log('    (skipped: neither REDIS_URL_TEST nor redis-server on PATH)');
      this.skip();
    }
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: randomPrefix(), TRUST_PROXY: 'true' };
    a = await startTestApp({ env });
    b = await startTestApp({ env, database: a.database });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  it('30 parallel guesses split over two instances: 5 reach bcrypt', async () => {
    await a.services.oidc.users.create({ email: 'shared@example.com', password: 'the real password', isAdmin: true });
    const checksA = countPasswordChecks(a);
    const checksB = countPasswordChecks(b);
    const address = { 'X-Forwarded-For': '198.51.100.77' };
    const pageA = await openDashboardSignIn(a, address);
    const pageB = await openDashboardSignIn(b, address);
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => {
      const page = i % 2 ? pageA : pageB;
      return page.agent.post('/dashboard/login').set(address).type('form').send({ csrf: page.csrf, email: 'shared@example.com', password: `guess ${i}` });
    }));
    expect(statuses(responses)).to.deep.equal({ 400: 5, 429: 25 });
    expect(checksA.count + checksB.count).to.equal(5);
  });
});
