import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';
import { FaultProxy } from '../support/fault_proxy.js';
import { createAgentWithKey } from '../keys/helpers.js';
import { postForm, registerClient, type RegisteredClient } from '../oidc/support.js';
import { randomPrefix, sharedRedis } from '../ratelimit/support.js';

const BUDGET_MS = 700;

/**
 * REQUEST_TIMEOUT_MS: a request stuck on a dependency answers 503 when its budget is spent, in the
 * error shape of its endpoint. What it is stuck on here: a frozen Redis (its commands wait 1 s,
 * longer than this budget) behind a fault-injecting proxy.
 */
describe('resilience: the request budget', function () {
  this.timeout(30_000);
  let redis: { url: string; stop(): Promise<void> } | undefined;
  let proxy: FaultProxy;
  let app: TestApp;
  let apiKey: string;
  let service: RegisteredClient;

  before(async function () {
    redis = await sharedRedis();
    if (!redis) {
      console.log('    (skipped: no Redis; set REDIS_URL_TEST or install redis-server)');
      this.skip();
    }
    const target = new URL(redis.url);
    proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    app = await startTestApp({
      env: {
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_PREFIX: randomPrefix(),
        REQUEST_TIMEOUT_MS: String(BUDGET_MS), DB_ACQUIRE_TIMEOUT_MS: '100', DB_QUERY_TIMEOUT_MS: '300', SHUTDOWN_GRACE_MS: '3000',
      },
    });
    apiKey = (await createAgentWithKey(app, { scopes: ['read'] })).apiKey;
    service = await registerClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] });
  });

  after(async () => {
    await app?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('answers 503 with Retry-After when the budget is spent: service_unavailable on Keyport routes, temporarily_unavailable on the engine\'s', async () => {
    // Warm: the key and the client are cached, Redis answers.
    await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
    await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, service).expect(200);

    proxy.freeze();
    const timed = async <T>(request: PromiseLike<T>): Promise<{ res: T; ms: number }> => {
      const started = Date.now();
      const res = await request;
      return { res, ms: Date.now() - started };
    };
    const [own, engine] = await Promise.all([
      timed(app.http().get('/auth/test').set('X-API-Key', apiKey)),
      timed(postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, service)),
    ]);

    expect(own.res.status, own.res.text).to.equal(503);
    expect(own.res.body.error).to.include({ code: 'service_unavailable', request_id: own.res.headers['x-request-id'] });
    expect(own.res.headers['retry-after']).to.match(/^\d+$/);
    expect(engine.res.status, engine.res.text).to.equal(503);
    expect(engine.res.body).to.deep.equal({ error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable; retry shortly.' });
    expect(engine.res.headers['retry-after']).to.match(/^\d+$/);
    for (const { ms } of [own, engine]) {
      expect(ms, 'not before the budget is spent').to.be.at.least(BUDGET_MS - 20);
      expect(ms, 'right when it is spent').to.be.below(BUDGET_MS + 700);
    }
    expect(JSON.stringify([own.res.body, engine.res.body])).not.to.match(/redis|timed out|stack/i);

    await proxy.pass();
    // Once the circuit has opened on the frozen commands, requests no longer wait for Redis at all;
    // either way they succeed again now.
    await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
    await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, service).expect(200);
  });
});
