import { expect } from 'chai';
import { rateLimitSummary } from '../../src/ratelimit/decision.js';
import { enforceRateLimit } from '../../src/ratelimit/koa.js';
import { freePort, startTestApp, type TestApp } from '../support/app.js';
import { hasRedisServer, randomPrefix, RedisServer, serveWithRoutes, sleep, type MountedApp } from './support.js';

const DEGRADED = 'rate limits: Redis is unavailable';
const RECOVERED = 'rate limits: Redis is back';

function count(logs: string[], text: string): number {
  return logs.filter((line) => line.includes(text)).length;
}

async function limitedApp(redisUrl: string, prefix: string): Promise<{ app: TestApp; mounted: MountedApp }> {
  const app = await startTestApp({ env: { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, RATE_LIMIT_BURST: '4', RATE_LIMIT_PER_MIN: '100' } });
  const mounted = await serveWithRoutes(app.services, (router) => {
    router.get('/limited/:id', enforceRateLimit((ctx) => ctx.services.rateLimits.consumeApiKey({ keyId: ctx.params.id!, env: 'live' })), async function show(ctx) {
      ctx.body = rateLimitSummary(ctx.state.rateLimit!);
    });
  });
  return { app, mounted };
}

/** Requests a limited route, asserting it answers quickly whatever state Redis is in. */
async function timedGet(mounted: MountedApp, path: string): Promise<{ status: number; remaining: string | undefined }> {
  const started = Date.now();
  const res = await mounted.http().get(path);
  expect(Date.now() - started, `${path} took too long`).to.be.below(2500);
  return { status: res.status, remaining: res.headers['x-ratelimit-remaining'] };
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('rate limits when Redis goes away', function () {
  this.timeout(60_000);
  this.slow(15_000);

  before(function () {
    if (!hasRedisServer()) {
      console.log('    (skipped: redis-server is not on PATH; these tests start and kill their own)');
      this.skip();
    }
  });

  it('keeps serving with per-instance limits, warns once, and goes back to Redis when it returns', async () => {
    const redis = await RedisServer.start();
    const prefix = randomPrefix();
    const { app, mounted } = await limitedApp(redis.url, prefix);
    const raw = redis.client();
    try {
      expect(app.services.redis).to.not.equal(undefined);
      expect((await timedGet(mounted, '/limited/key_a')).remaining).to.equal('3');
      expect((await timedGet(mounted, '/limited/key_a')).remaining).to.equal('2');
      expect(await raw.get(`${prefix}rl:key:live:burst:key_a`)).to.equal('2');

      await redis.kill();
      raw.disconnect();
      // Memory counts from zero: limits hold per instance meanwhile.
      const during = [];
      for (let i = 0; i < 6; i += 1) during.push(await timedGet(mounted, '/limited/key_a'));
      expect(during.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 429, 429]);
      expect(during.map((r) => r.remaining)).to.deep.equal(['3', '2', '1', '0', '0', '0']);
      expect(app.services.rateLimits.status()).to.deep.include({ backend: 'redis', degraded: true });
      await app.http().get('/healthz').expect(200);
      expect(count(app.logs, DEGRADED), 'one warning, not one per request').to.equal(1);
      const warning = JSON.parse(app.logs.find((line) => line.includes(DEGRADED))!);
      expect(warning.level).to.equal('warn');

      await redis.restart();
      await until(async () => {
        await mounted.http().get('/limited/key_b');
        return !app.services.rateLimits.status().degraded;
      }, 10_000, 'rate limits to use Redis again');
      expect(count(app.logs, RECOVERED)).to.equal(1);
      expect(count(app.logs, DEGRADED)).to.equal(1);

      // Counting happens in Redis again (it restarted empty).
      const back = redis.client();
      try {
        await timedGet(mounted, '/limited/key_c');
        await timedGet(mounted, '/limited/key_c');
        expect(await back.get(`${prefix}rl:key:live:burst:key_c`)).to.equal('2');
      } finally {
        back.disconnect();
      }
    } finally {
      raw.disconnect();
      await mounted.close();
      await app.close();
      await redis.kill();
    }
  });

  it('starts while Redis is down, serves from memory, and picks Redis up when it appears', async () => {
    const port = await freePort();
    const prefix = randomPrefix();
    const started = Date.now();
    const { app, mounted } = await limitedApp(`redis://127.0.0.1:${port}`, prefix);
    let redis: RedisServer | undefined;
    try {
      expect(Date.now() - started, 'start must not hang on a missing Redis').to.be.below(5000);
      expect(await timedGet(mounted, '/limited/key_d')).to.deep.equal({ status: 200, remaining: '3' });
      expect(count(app.logs, DEGRADED)).to.equal(1);
      expect(app.logs.some((line) => line.includes('redis: not reachable'))).to.equal(true);

      redis = await RedisServer.start(port);
      await until(async () => {
        await mounted.http().get('/limited/key_e');
        return !app.services.rateLimits.status().degraded;
      }, 10_000, 'rate limits to use Redis');
      const raw = redis.client();
      try {
        await timedGet(mounted, '/limited/key_f');
        expect(await raw.get(`${prefix}rl:key:live:burst:key_f`)).to.equal('1');
      } finally {
        raw.disconnect();
      }
    } finally {
      await mounted.close();
      await app.close();
      await redis?.kill();
    }
  });

  it('shuts down promptly while Redis is unreachable', async () => {
    const port = await freePort();
    const { app, mounted } = await limitedApp(`redis://127.0.0.1:${port}`, randomPrefix());
    await mounted.close();
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).to.be.below(3000);
  });
});
