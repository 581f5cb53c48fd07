import { expect } from 'chai';
import { RedisBus } from '../../src/lib/redis_bus.js';
import { enforceRateLimit } from '../../src/ratelimit/koa.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { randomPrefix, serveWithRoutes, sharedRedis, type MountedApp } from './support.js';

describe('two instances sharing Redis', function () {
  this.timeout(30_000);
  let redis: { url: string; stop(): Promise<void> } | undefined;
  let a: TestApp;
  let b: TestApp;
  let mountedA: MountedApp;
  let mountedB: MountedApp;

  before(async function () {
    redis = await sharedRedis();
    if (!redis) {
      console.log('    (skipped: neither REDIS_URL_TEST nor redis-server on PATH)');
      this.skip();
    }
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: randomPrefix(), RATE_LIMIT_BURST: '3', RATE_LIMIT_CLIENT_PER_MIN: '4' };
    a = await startTestApp({ env });
    // The second instance works on the same database, as a scaled-out deployment does.
    b = await startTestApp({ env, database: a.database });
    const routes = (router: Parameters<Parameters<typeof serveWithRoutes>[1]>[0]): void => {
      router.get('/limited/key/:id', enforceRateLimit((ctx) => ctx.services.rateLimits.consumeApiKey({ keyId: ctx.params.id!, env: 'live' })), async function ok(ctx) { ctx.body = {}; });
      router.post('/limited/client/:id', enforceRateLimit((ctx) => ctx.services.rateLimits.consumeClient(ctx.params.id!)), async function ok(ctx) { ctx.body = {}; });
    };
    mountedA = await serveWithRoutes(a.services, routes);
    mountedB = await serveWithRoutes(b.services, routes);
  });
  after(async () => {
    await mountedA?.close();
    await mountedB?.close();
    await b?.close();
    await a?.close();
    await redis?.stop();
  });

  it('sees on B the rate limit consumed on A', async () => {
    expect((await mountedA.http().get('/limited/key/key_shared').expect(200)).headers['x-ratelimit-remaining']).to.equal('2');
    expect((await mountedA.http().get('/limited/key/key_shared').expect(200)).headers['x-ratelimit-remaining']).to.equal('1');
    expect((await mountedB.http().get('/limited/key/key_shared').expect(200)).headers['x-ratelimit-remaining']).to.equal('0');
    const refused = await mountedB.http().get('/limited/key/key_shared').expect(429);
    expect(refused.body.error.code).to.equal('rate_limit_exceeded');
    await mountedA.http().get('/limited/key/key_shared').expect(429);
  });

  it('shares per-client limits too, under concurrency', async () => {
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? mountedA : mountedB).http().post('/limited/client/cli_shared').send({})));
    expect(responses.filter((res) => res.status === 200)).to.have.length(4);
    expect(responses.filter((res) => res.status === 429)).to.have.length(6);
  });

  it('delivers a bus message published on A to B within a second, and to A once', async () => {
    expect(a.services.bus).to.be.instanceOf(RedisBus);
    const onB: string[] = [];
    const onA: string[] = [];
    const received = new Promise<number>((resolve) => {
      const started = Date.now();
      b.services.bus.subscribe('key.revoked', (message) => { onB.push(message); resolve(Date.now() - started); });
    });
    a.services.bus.subscribe('key.revoked', (message) => onA.push(message));
    await (b.services.bus as RedisBus).whenSubscribed();
    await (a.services.bus as RedisBus).whenSubscribed();
    await a.services.bus.publish('key.revoked', 'key_abc');
    const elapsed = await Promise.race([received, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('not delivered within 1 s')), 1000))]);
    expect(elapsed).to.be.below(1000);
    expect(onB).to.deep.equal(['key_abc']);
    // A's own copy comes back from Redis too, and must not be delivered a second time.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(onA).to.deep.equal(['key_abc']);
  });
});
