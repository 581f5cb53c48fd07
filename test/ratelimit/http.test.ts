import { expect } from 'chai';
import { ExpiredApiKey, InvalidApiKey } from '../../src/lib/errors.js';
import { rateLimitSummary } from '../../src/ratelimit/decision.js';
import { enforceRateLimit, guardKeyGuessing, limitLoginByIp } from '../../src/ratelimit/koa.js';
import { RateLimits } from '../../src/ratelimit/service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { fakeWallClock, manualClock, type FakeWallClock } from '../support/time.js';
import { serveWithRoutes, type MountedApp, type TestRouter } from './support.js';

/** docs/reference.md §4 body of a 429. */
function expect429(res: { status: number; body: unknown; headers: Record<string, string> }): void {
  expect(res.status).to.equal(429);
  expect(res.body).to.have.nested.property('error.code', 'rate_limit_exceeded');
  expect(res.body).to.have.nested.property('error.message').that.is.a('string').and.not.empty;
  expect(res.body).to.have.nested.property('error.request_id', res.headers['x-request-id']);
  const retryAfter = (res.body as { error: { retry_after: number } }).error.retry_after;
  expect(retryAfter).to.be.a('number').and.to.be.at.least(1);
  expect(res.headers['retry-after']).to.equal(String(retryAfter));
  expect(res.headers['x-ratelimit-remaining']).to.equal('0');
  expect(res.headers['cache-control']).to.equal('no-store');
}

/** The routes features will build: key-limited, login-limited, and a key check behind the guessing guard. */
function limitedRoutes(router: TestRouter): void {
  router.get('/limited/key/:id', enforceRateLimit((ctx) => ctx.services.rateLimits.consumeApiKey({ keyId: ctx.params.id!, env: ctx.query.env === 'test' ? 'test' : 'live' })),
    async function showLimit(ctx) {
      ctx.body = { rate_limit: rateLimitSummary(ctx.state.rateLimit!) };
    });
  router.post('/limited/login', limitLoginByIp, async function login(ctx) {
    ctx.body = { ok: true };
  });
  router.get('/limited/check', guardKeyGuessing, async function checkKey(ctx, next) {
    const key = ctx.get('X-API-Key');
    if (key === 'expired') throw new ExpiredApiKey();
    if (key !== 'good') throw new InvalidApiKey();
    await next();
  }, enforceRateLimit((ctx) => ctx.services.rateLimits.consumeApiKey({ keyId: 'key_guarded', env: 'live' })), async function authenticated(ctx) {
    ctx.body = { authenticated: true };
  });
}

describe('rate limits over HTTP', function () {
  this.slow(4000);
  let app: TestApp;
  let mounted: MountedApp;

  before(async () => {
    app = await startTestApp({ env: { RATE_LIMIT_BURST: '3', RATE_LIMIT_PER_MIN: '5', RATE_LIMIT_PER_HOUR: '100', RATE_LIMIT_LOGIN_PER_IP: '2', RATE_LIMIT_KEY_FAILURES_PER_IP: '3' } });
    mounted = await serveWithRoutes(app.services, limitedRoutes);
  });
  after(async () => {
    await mounted?.close();
    await app?.close();
  });

  it('puts X-RateLimit-* and the IETF fields on every limited response, counting down', async () => {
    const before = Math.floor(Date.now() / 1000);
    const responses = [];
    let firstAnsweredMs = 0;
    for (let i = 0; i < 3; i += 1) {
      responses.push(await mounted.http().get('/limited/key/key_headers').expect(200));
      if (i === 0) firstAnsweredMs = Date.now();
    }
    // The burst window opens at the first request, so it resets 10 s after that, rounded up: no
    // later than 10 s after the first answer arrived (a slow first request moves it, as it should).
    const latestReset = Math.ceil(firstAnsweredMs / 1000) + 10;
    expect(responses.map((r) => r.headers['x-ratelimit-remaining'])).to.deep.equal(['2', '1', '0']);
    for (const res of responses) {
      expect(res.headers['x-ratelimit-limit']).to.equal('3');
      expect(Number(res.headers['x-ratelimit-reset'])).to.be.within(before + 9, latestReset);
      expect(res.headers['ratelimit-policy']).to.equal('"burst";q=3;w=10, "minute";q=5;w=60, "hour";q=100;w=3600');
    }
    expect(responses[0]!.headers.ratelimit).to.match(/^"burst";r=2;t=(9|10), "minute";r=4;t=(59|60), "hour";r=99;t=(3599|3600)$/);
    expect(responses[2]!.headers.ratelimit).to.match(/^"burst";r=0;t=(9|10), "minute";r=2;t=(59|60), "hour";r=97;t=(3599|3600)$/);
    // What GET /auth/test will report as rate_limit is the same numbers as the headers.
    expect(responses[1]!.body.rate_limit).to.deep.equal({ limit: 3, remaining: 1, reset: Number(responses[1]!.headers['x-ratelimit-reset']) });
  });

  it('refuses with 429, Retry-After and the reference §4 error body, and counts the rejection in /metrics', async () => {
    for (let i = 0; i < 3; i += 1) await mounted.http().get('/limited/key/key_refused').expect(200);
    const refused = await mounted.http().get('/limited/key/key_refused');
    expect429(refused);
    expect(refused.body.error.retry_after).to.be.at.most(10);
    expect(refused.headers['x-ratelimit-limit']).to.equal('3');
    expect(refused.headers.ratelimit).to.match(/^"burst";r=0;t=\d+, "minute";r=2;t=\d+, "hour";r=97;t=\d+$/);
    const metrics = await app.http().get('/metrics').expect(200);
    expect(metrics.text).to.match(/keyport_rate_limit_rejections_total\{limiter="api_key"\} [1-9]/);
  });

  it('keeps test-key and live-key traffic apart', async () => {
    for (let i = 0; i < 3; i += 1) await mounted.http().get('/limited/key/key_envs?env=test').expect(200);
    expect429(await mounted.http().get('/limited/key/key_envs?env=test'));
    const live = await mounted.http().get('/limited/key/key_envs').expect(200);
    expect(live.headers['x-ratelimit-remaining']).to.equal('2');
  });

  it('limits login attempts per address', async () => {
    const first = await mounted.http().post('/limited/login').send({}).expect(200);
    expect(first.headers['x-ratelimit-limit']).to.equal('2');
    expect(first.headers['ratelimit-policy']).to.equal('"login_ip";q=2;w=60');
    await mounted.http().post('/limited/login').send({}).expect(200);
    const refused = await mounted.http().post('/limited/login').send({});
    expect429(refused);
    expect(refused.body.error.retry_after).to.be.within(55, 60);
  });

  it('answers an address that failed too many key checks with 429 before checking its key', async () => {
    const good = await mounted.http().get('/limited/check').set('X-API-Key', 'good').expect(200);
    // The guard does not advertise its own numbers on an allowed request: the key's are shown.
    expect(good.headers['ratelimit-policy']).to.match(/^"burst"/);
    // Expired (and revoked) keys are known keys, not guesses: they do not count.
    for (let i = 0; i < 5; i += 1) await mounted.http().get('/limited/check').set('X-API-Key', 'expired').expect(401);
    for (let i = 0; i < 3; i += 1) {
      const res = await mounted.http().get('/limited/check').set('X-API-Key', `guess-${i}`).expect(401);
      expect(res.body.error.code).to.equal('invalid_api_key');
    }
    const blocked = await mounted.http().get('/limited/check').set('X-API-Key', 'good');
    expect429(blocked);
    expect(blocked.headers['ratelimit-policy']).to.equal('"failed_key_ip";q=3;w=60');
    expect(blocked.headers['x-ratelimit-limit']).to.equal('3');
    const metrics = await app.http().get('/metrics').expect(200);
    expect(metrics.text).to.match(/keyport_rate_limit_rejections_total\{limiter="failed_key_ip"\} 1/);
  });

  it('serves again after the window resets (short windows, same steps)', async () => {
    const { logger } = app.services;
    const quick = new RateLimits({ config: app.config, logger, windowLengths: { burst: 1 } });
    let wallClock: FakeWallClock | undefined;
    const reset = await serveWithRoutes(app.services, (router) => {
      router.get('/quick', enforceRateLimit(() => quick.consumeApiKey({ keyId: 'key_quick', env: 'live', overrides: { burst: 1 } })), async function ok(ctx) { ctx.body = {}; });
    });
    try {
      await reset.http().get('/quick').expect(200);
      const refused = await reset.http().get('/quick');
      expect429(refused);
      expect(refused.body.error.retry_after).to.equal(1);
      // Past the 1 s window on a fake Date (the counters read Date); the server runs on as usual.
      wallClock = fakeWallClock();
      wallClock.advance(1100);
      const again = await reset.http().get('/quick').expect(200);
      expect(again.headers['x-ratelimit-remaining']).to.equal('0');
    } finally {
      wallClock?.uninstall();
      await reset.close();
    }
  });
});

describe('rate limits lifted for benchmarks (RATE_LIMIT_DISABLED=true)', () => {
  it('never refuses and still reports the configured policy', async () => {
    const app = await startTestApp({ env: { RATE_LIMIT_DISABLED: 'true', RATE_LIMIT_BURST: '2' } });
    const mounted = await serveWithRoutes(app.services, limitedRoutes);
    try {
      for (let i = 0; i < 6; i += 1) {
        const res = await mounted.http().get('/limited/key/key_bench').expect(200);
        expect(res.headers['x-ratelimit-remaining']).to.equal('2');
      }
      expect(app.logs.some((line) => line.includes('rate limits are disabled'))).to.equal(true);
    } finally {
      await mounted.close();
      await app.close();
    }
  });
});

describe('the clock of the app\'s dependencies', () => {
  it('reaches the rate limits of a running app: X-RateLimit-Reset follows the clock the app was given', async () => {
    const clock = manualClock(2_000_000_000_000);
    const app = await startTestApp({ clock, env: { RATE_LIMIT_BURST: '3' } });
    const mounted = await serveWithRoutes(app.services, limitedRoutes);
    try {
      expect(app.services.clock).to.equal(clock);
      const res = await mounted.http().get('/limited/key/key_clocked').expect(200);
      // The burst window (10 s) is the tightest: it ends within 10 s of the app's "now".
      expect(Number(res.headers['x-ratelimit-reset'])).to.be.within(2_000_000_001, 2_000_000_010);
    } finally {
      await mounted.close();
      await app.close();
    }
  });
});
