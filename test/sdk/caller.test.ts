import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCaller, KeyportCallerError } from '@keyport/verify/caller';
import { agentWithKey, claimsOf, keyportRequests, runAgent, startExample, startKeyport, type KeyportFixture, type RunningProcess } from './support.js';
import { createAgentWithKey } from '../keys/helpers.js';

/** Keyport's answer to a bearer token at GET /auth/test: 200 while the token is good. */
async function tokenWorks(fx: KeyportFixture, token: string): Promise<boolean> {
  return (await fx.app.http().get('/auth/test').set('Authorization', `Bearer ${token}`)).status === 200;
}

/**
 * The caller helper for agents and scripts, against a real Keyport: one login, then the same
 * token until shortly before it expires, then /auth/refresh (or a new login if the refresh token
 * was refused), and waiting as told on 429.
 */
describe('resource-server kit: caller helper', () => {
  let fx: KeyportFixture;
  before(async () => { fx = await startKeyport(); });
  after(async () => { await fx?.app.close(); });

  it('logs in once and reuses the token, also for concurrent callers', async () => {
    const { apiKey } = await agentWithKey(fx.app, ['read']);
    const caller = createCaller({ issuer: fx.app.config.issuer, apiKey, sessionId: 'reuse' });
    const before = keyportRequests(fx.app, '/auth/login');
    const tokens = await Promise.all(Array.from({ length: 5 }, () => caller.accessToken()));
    tokens.push(await caller.accessToken());
    expect(new Set(tokens).size).to.equal(1);
    expect(keyportRequests(fx.app, '/auth/login') - before).to.equal(1);
    expect(caller.requests).to.deep.equal({ login: 1, refresh: 0 });
    expect(await tokenWorks(fx, tokens[0]!)).to.equal(true);
  });

  it('gets the next token at /auth/refresh shortly before expiry, not earlier', async () => {
    const { apiKey } = await agentWithKey(fx.app, ['read']);
    let offset = 0;
    const caller = createCaller({ issuer: fx.app.config.issuer, apiKey, sessionId: 'refresh', refreshMarginSeconds: 60, now: () => Date.now() + offset });
    const first = await caller.accessToken();
    // The caller counts from expires_in, in whole seconds: its idea of the expiry is within 1 s before exp.
    const exp = (claimsOf(first).exp as number) * 1000;
    offset = exp - 62_000 - Date.now(); // 61-62 s left: outside the margin
    expect(await caller.accessToken()).to.equal(first);
    offset = exp - 58_000 - Date.now(); // 57-58 s left: inside the margin
    const second = await caller.accessToken();
    expect(second).not.to.equal(first);
    expect(caller.requests).to.deep.equal({ login: 1, refresh: 1 });
    expect(await tokenWorks(fx, second)).to.equal(true);
  });

  it('logs in again when the refresh token is refused (its session was ended)', async () => {
    const { apiKey } = await agentWithKey(fx.app, ['read']);
    let offset = 0;
    const caller = createCaller({ issuer: fx.app.config.issuer, apiKey, sessionId: 'ended', now: () => Date.now() + offset });
    const first = await caller.accessToken();
    expect((await fx.app.http().delete('/auth/sessions/ended').set('X-API-Key', apiKey)).status).to.equal(204);
    offset = 7200 * 1000; // past the token's lifetime
    const second = await caller.accessToken();
    expect(second).not.to.equal(first);
    expect(caller.requests).to.deep.equal({ login: 2, refresh: 1 });
    expect(await tokenWorks(fx, second)).to.equal(true);
    expect(await tokenWorks(fx, first), 'the ended session\'s token is dead').to.equal(false);
  });

  // Waiting and retrying is timed against the stub below (Keyport's burst window would make this
  // test wait 10 s); here the real 429 shows the caller reads Keyport's answer.
  it('does not wait longer than allowed: the 429 surfaces with retry_after, and never the key', async () => {
    const { apiKey } = await createAgentWithKey(fx.app, { scopes: ['read'], rateLimit: { burst: 1 } });
    await createCaller({ issuer: fx.app.config.issuer, apiKey, sessionId: 'a' }).accessToken();
    const caller = createCaller({ issuer: fx.app.config.issuer, apiKey, sessionId: 'b', maxRetryDelaySeconds: 0 });
    const error = await caller.accessToken().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(KeyportCallerError);
    const refused = error as KeyportCallerError;
    expect(refused.status).to.equal(429);
    expect(refused.code).to.equal('rate_limit_exceeded');
    expect(refused.retryAfterSeconds).to.be.within(1, 10);
    expect(refused.requestId).to.match(/\S/);
    expect(refused.message).to.match(/^POST \/auth\/login: 429 rate_limit_exceeded: /);
    expect(refused.message).not.to.include(apiKey);
  });

  it('reports a bad key with its documented code', async () => {
    const apiKey = `ak_live_${'x'.repeat(32)}`;
    const error = await createCaller({ issuer: fx.app.config.issuer, apiKey }).accessToken().then(() => undefined, (e: unknown) => e) as KeyportCallerError;
    expect(error).to.be.instanceOf(KeyportCallerError);
    expect([error.status, error.code]).to.deep.equal([401, 'invalid_api_key']);
    expect(error.message).not.to.include(apiKey);
  });

  describe('Retry-After forms (a stub Keyport that refuses twice)', () => {
    let stub: Server;
    let url: string;
    let answers: Array<(res: import('node:http').ServerResponse) => void>;
    let arrivals: number[];
    before(async () => {
      stub = createServer((req, res) => {
        arrivals.push(Date.now());
        req.resume();
        req.on('end', () => answers.shift()!(res));
      });
      await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((resolve) => stub.close(() => resolve())));
    beforeEach(() => { arrivals = []; });

    const ok = (res: import('node:http').ServerResponse): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'tok', token_type: 'Bearer', expires_in: 600 }));
    };

    it("honours the header (seconds or an HTTP date) and, without one, Keyport's error.retry_after", async () => {
      answers = [
        (res) => res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":{"code":"rate_limit_exceeded","message":"slow down","request_id":"r1","retry_after":1}}'),
        (res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"service_unavailable","message":"draining","request_id":"r2","retry_after":1}}'),
        (res) => res.writeHead(429, { 'retry-after': new Date(Date.now() + 1500).toUTCString() }).end(),
        ok,
      ];
      expect(await createCaller({ issuer: url, apiKey: `ak_test_${'a'.repeat(32)}` }).accessToken()).to.equal('tok');
      expect(arrivals).to.have.length(4);
      const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
      expect(gaps[0]).to.be.at.least(950);
      expect(gaps[1]).to.be.at.least(950);
      expect(gaps[2], 'an HTTP date, rounded up to whole seconds').to.be.at.least(950);
    });

    it('gives up after maxRetries and reports the last answer', async () => {
      const refuse = (res: import('node:http').ServerResponse): void => { res.writeHead(429, { 'retry-after': '0' }).end(); };
      answers = [refuse, refuse, refuse];
      const error = await createCaller({ issuer: url, apiKey: `ak_test_${'a'.repeat(32)}`, maxRetries: 2 }).accessToken().then(() => undefined, (e: unknown) => e) as KeyportCallerError;
      expect(error).to.be.instanceOf(KeyportCallerError);
      expect([error.status, error.retryAfterSeconds]).to.deep.equal([429, 0]);
      expect(arrivals).to.have.length(3);
    });
  });

  describe('with an API (the Koa example)', () => {
    let api: RunningProcess;
    before(async () => { api = await startExample('koa', fx); });
    after(async () => { await api?.stop(); });

    it('fetch() gets a new token and retries once when the API says invalid_token', async () => {
      const { apiKey } = await agentWithKey(fx.app, ['read', 'write']);
      const caller = createCaller({ issuer: fx.app.config.issuer, apiKey, sessionId: 'worker' });
      await caller.accessToken();
      expect((await fx.app.http().delete('/auth/sessions/worker').set('X-API-Key', apiKey)).status).to.equal(204);

      const res = await caller.fetch(`${api.url}/orders/ord_1`, { method: 'DELETE' });
      expect(res.status).to.equal(200);
      expect(await res.json()).to.include({ deleted: 'ord_1', verified_by: 'jwt+introspection' });
      expect(caller.requests, 'the refresh token died with the session: a new login').to.deep.equal({ login: 2, refresh: 1 });
    });

    it('the agent example script: three calls, one login', async () => {
      const { apiKey } = await agentWithKey(fx.app, ['read']);
      const before = keyportRequests(fx.app, '/auth/login');
      const run = await runAgent({ KEYPORT_ISSUER: fx.app.config.issuer, KEYPORT_API_KEY: apiKey, API_URL: api.url, SESSION_ID: 'agent-example' });
      expect(run.code, run.stderr).to.equal(0);
      expect(JSON.parse(run.stdout)).to.deep.equal({
        calls: [{ status: 200, orders: 2 }, { status: 200, orders: 2 }, { status: 200, orders: 2 }],
        keyport_requests: { login: 1, refresh: 0 },
      });
      expect(keyportRequests(fx.app, '/auth/login') - before).to.equal(1);
      expect(run.stdout + run.stderr).not.to.include(apiKey);
    });
  });
});
