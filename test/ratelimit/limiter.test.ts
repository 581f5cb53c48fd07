import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { commandClientOptions } from '../../src/lib/redis.js';
import { RateLimits } from '../../src/ratelimit/service.js';
import { memoryLogger, randomPrefix, sharedRedis, sleep } from './support.js';
import { Redis as RedisClient } from 'ioredis';
import { fakeWallClock, manualClock, type FakeWallClock } from '../support/time.js';

const POLICIES = { disabled: false, clientPerMinute: 4, loginPerIpPerMinute: 3, keyFailuresPerIpPerMinute: 3, publicIntrospectionPerIpPerMinute: 3 };
const DEFAULTS = { perMinute: 5, perHour: 7, burst: 3 };
/**
 * In memory: windows of 2 s (burst), 4 s (minute), 8 s (hour) and 2 s (the others), on a fake
 * `Date` the tests move past a window's end instead of sleeping (test/support/time.ts).
 */
const SHORT = { burst: 2, minute: 4, hour: 8, single: 2 };
/**
 * In Redis, whose TTLs run on its own clock, the tests do wait: windows of 1 s (burst), 2 s
 * (minute), 4 s (hour) and 1 s (the others), Redis's shortest (it counts whole seconds), still
 * leave a loaded CI machine most of a second for the few requests meant to land in one window.
 */
const SHORTEST = { burst: 1, minute: 2, hour: 4, single: 1 };

/** How a variant lets time pass: the window lengths it counts with, and how it gets past the end of one. */
interface Time {
  readonly lengths: typeof SHORT;
  /** Lets `ms` go by. */
  pass(ms: number): Promise<void>;
}

/** Past the end of a window of `seconds` that began at the first request (100 ms later). */
function pastWindow(seconds: number): number {
  return seconds * 1000 + 100;
}

let counter = 0;
function keyId(): string {
  counter += 1;
  return `key_test${Date.now()}${counter}`;
}

async function times<T>(n: number, run: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < n; i += 1) results.push(await run());
  return results;
}

/** The same behaviour is expected in memory and in Redis. */
function limiterBehaviour(label: string, makeLimits: (overrides?: { disabled?: boolean }) => RateLimits | Promise<RateLimits>, time: Time): void {
  describe(`rate limits (${label})`, function () {
    this.slow(5000);
    const { lengths } = time;

    it('counts down every window and refuses past the burst window, reporting the tightest one', async () => {
      const limits = await makeLimits();
      const id = keyId();
      const decisions = await times(4, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      expect(decisions.map((d) => [d.allowed, d.policy, d.remaining])).to.deep.equal([
        [true, 'burst', 2], [true, 'burst', 1], [true, 'burst', 0], [false, 'burst', 0],
      ]);
      const refused = decisions[3]!;
      expect(refused.limit).to.equal(3);
      expect(refused.retryAfterSeconds).to.be.within(1, 2);
      expect(refused.windows.map((w) => [w.policy, w.remaining, w.exceeded])).to.deep.equal([
        ['burst', 0, true], ['minute', 2, false], ['hour', 4, false],
      ]);
    });

    it('resets a window when it ends, and a refusal by the burst window does not use up the minute', async () => {
      const limits = await makeLimits();
      const id = keyId();
      await times(3, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      const refusedByBurst = await times(3, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      expect(refusedByBurst.every((d) => !d.allowed && d.policy === 'burst')).to.equal(true);
      await time.pass(pastWindow(lengths.burst));
      // Minute limit 5: three were counted, the three refusals were given back, two remain.
      const after = await times(3, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      expect(after.map((d) => [d.allowed, d.policy])).to.deep.equal([[true, 'minute'], [true, 'minute'], [false, 'minute']]);
      expect(after[2]!.retryAfterSeconds).to.be.within(1, 2);
      await time.pass(pastWindow(lengths.minute - lengths.burst));
      const fresh = await limits.consumeApiKey({ keyId: id, env: 'live' });
      expect(fresh.allowed).to.equal(true);
      expect(fresh.windows.find((w) => w.policy === 'minute')!.remaining).to.equal(4);
    });

    it('refuses by the hour window once the minute windows have passed', async () => {
      const limits = await makeLimits();
      const id = keyId();
      const first = await times(3, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      await time.pass(pastWindow(lengths.burst));
      const second = await times(4, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      expect([...first, ...second].map((d) => d.allowed)).to.deep.equal([true, true, true, true, true, false, false]);
      expect(second[2]!.policy).to.equal('minute');
      await time.pass(pastWindow(lengths.minute - lengths.burst)); // the minute window has ended, the hour has not
      const hourly = await times(3, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      expect(hourly.map((d) => [d.allowed, d.policy])).to.deep.equal([[true, 'hour'], [true, 'hour'], [false, 'hour']]);
    });

    it('counts test keys in their own namespace: they never eat into live quotas', async () => {
      const limits = await makeLimits();
      const id = keyId();
      await times(3, () => limits.consumeApiKey({ keyId: id, env: 'test' }));
      expect((await limits.consumeApiKey({ keyId: id, env: 'test' })).allowed).to.equal(false);
      const live = await limits.consumeApiKey({ keyId: id, env: 'live' });
      expect(live).to.include({ allowed: true, remaining: 2 });
      expect((await limits.peekApiKey({ keyId: id, env: 'test' })).allowed).to.equal(false);
    });

    it('holds a key to its own overrides, window by window, without touching other keys', async () => {
      const limits = await makeLimits();
      const strict = keyId();
      const roomy = keyId();
      const overrides = { burst: 1, perMinute: 10, perHour: 10 };
      const strictDecisions = await times(2, () => limits.consumeApiKey({ keyId: strict, env: 'live', overrides }));
      expect(strictDecisions.map((d) => [d.allowed, d.limit])).to.deep.equal([[true, 1], [false, 1]]);
      expect(strictDecisions[0]!.windows.map((w) => w.limit)).to.deep.equal([1, 10, 10]);
      const roomyDecisions = await times(5, () => limits.consumeApiKey({ keyId: roomy, env: 'live', overrides: { burst: 10 } }));
      expect(roomyDecisions.map((d) => d.allowed)).to.deep.equal([true, true, true, true, true]);
      expect(roomyDecisions[4]!).to.include({ policy: 'minute', remaining: 0 });
      expect((await limits.consumeApiKey({ keyId: roomy, env: 'live', overrides: { burst: 10 } })).policy).to.equal('minute');
    });

    it('peeks without counting', async () => {
      const limits = await makeLimits();
      const id = keyId();
      expect((await limits.peekApiKey({ keyId: id, env: 'live' })).remaining).to.equal(3);
      await limits.consumeApiKey({ keyId: id, env: 'live' });
      const peeked = await times(3, () => limits.peekApiKey({ keyId: id, env: 'live' }));
      expect(peeked.map((d) => [d.allowed, d.remaining])).to.deep.equal([[true, 2], [true, 2], [true, 2]]);
    });

    it('limits token-endpoint requests per client and login attempts per address', async () => {
      const limits = await makeLimits();
      const client = `cli_${keyId()}`;
      const clientDecisions = await times(5, () => limits.consumeClient(client));
      expect(clientDecisions.map((d) => d.allowed)).to.deep.equal([true, true, true, true, false]);
      expect(clientDecisions[4]!).to.include({ limiter: 'client', policy: 'client', limit: 4 });
      expect((await limits.consumeClient(`${client}-other`)).allowed).to.equal(true);

      const logins = await times(4, () => limits.consumeLoginIp('203.0.113.7'));
      expect(logins.map((d) => d.allowed)).to.deep.equal([true, true, true, false]);
      expect(logins[3]!).to.include({ limiter: 'login_ip', limit: 3 });
      // The same address written as IPv4-mapped IPv6 is the same bucket; another address is not.
      expect((await limits.consumeLoginIp('::ffff:203.0.113.7')).allowed).to.equal(false);
      expect((await limits.consumeLoginIp('203.0.113.8')).allowed).to.equal(true);
      await time.pass(pastWindow(lengths.single));
      expect((await limits.consumeLoginIp('203.0.113.7')).allowed).to.equal(true);
    });

    it('counts IPv6 addresses per /64, so rotating addresses inside one network does not escape the limit', async () => {
      const limits = await makeLimits();
      const decisions = await Promise.all(['2001:db8:7:1::1', '2001:db8:7:1::2', '2001:db8:7:1:ffff::9'].map((ip) => limits.consumeLoginIp(ip)));
      expect(decisions.map((d) => d.remaining).sort()).to.deep.equal([0, 1, 2]);
      expect((await limits.consumeLoginIp('2001:db8:7:1::abcd')).allowed).to.equal(false);
      expect((await limits.consumeLoginIp('2001:db8:7:2::1')).allowed).to.equal(true);
    });

    it('blocks an address after too many failed key checks, until the window ends', async () => {
      const limits = await makeLimits();
      const ip = '198.51.100.23';
      expect(await limits.isIpBlockedForKeyFailures(ip)).to.equal(false);
      const failures = await times(3, () => limits.consumeFailedKeyIp(ip));
      expect(failures.map((d) => d.allowed)).to.deep.equal([true, true, false]);
      expect(await limits.isIpBlockedForKeyFailures(ip)).to.equal(true);
      const standing = await limits.checkFailedKeyIp(ip);
      expect(standing).to.include({ allowed: false, limiter: 'failed_key_ip', policy: 'failed_key_ip', limit: 3, remaining: 0 });
      expect(standing.retryAfterSeconds).to.be.within(1, 2);
      // Checking does not count: still exactly blocked, not further.
      expect(await limits.isIpBlockedForKeyFailures('198.51.100.24')).to.equal(false);
      await time.pass(pastWindow(lengths.single));
      expect(await limits.isIpBlockedForKeyFailures(ip)).to.equal(false);
    });

    it('is atomic under concurrency: exactly the limit gets through', async () => {
      const limits = await makeLimits();
      const id = keyId();
      const decisions = await Promise.all(Array.from({ length: 25 }, () => limits.consumeApiKey({ keyId: id, env: 'live', overrides: { burst: 10, perMinute: 10, perHour: 10 } })));
      expect(decisions.filter((d) => d.allowed)).to.have.length(10);
      const remaining = decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b);
      expect(remaining).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('counts and refuses nothing when disabled (benchmarks), but still reports the policy', async () => {
      const limits = await makeLimits({ disabled: true });
      const id = keyId();
      const decisions = await times(10, () => limits.consumeApiKey({ keyId: id, env: 'live' }));
      expect(decisions.every((d) => d.allowed && d.remaining === 3 && d.limit === 3)).to.equal(true);
      expect((await times(5, () => limits.consumeFailedKeyIp('192.0.2.1'))).every((d) => d.allowed)).to.equal(true);
      expect(await limits.isIpBlockedForKeyFailures('192.0.2.1')).to.equal(false);
      expect(limits.status().disabled).to.equal(true);
    });
  });
}

describe('rate limits in memory', () => {
  let wallClock: FakeWallClock | undefined;
  beforeEach(() => { wallClock = fakeWallClock(); });
  afterEach(() => { wallClock?.uninstall(); wallClock = undefined; });

  limiterBehaviour('in memory', (overrides = {}) => {
    const { logger } = memoryLogger();
    return new RateLimits({ config: { rateLimit: DEFAULTS, rateLimitPolicies: { ...POLICIES, ...overrides } }, logger, windowLengths: SHORT });
  }, { lengths: SHORT, pass: async (ms) => { wallClock!.advance(ms); } });

  it('reports reset times from the clock it was given', async () => {
    const clock = manualClock(1_800_000_000_000);
    const { logger } = memoryLogger();
    const limits = new RateLimits({ config: { rateLimit: DEFAULTS, rateLimitPolicies: POLICIES }, logger, windowLengths: SHORT, clock });
    const decision = await limits.consumeApiKey({ keyId: keyId(), env: 'live' });
    // The burst window (2 s) is the tightest; it ends 2 s after the clock's "now".
    expect(decision.resetEpochSeconds).to.equal(1_800_000_002);
    clock.advance(60_000);
    expect((await limits.peekClient('cli_unseen')).resetEpochSeconds).to.equal(1_800_000_062);
  });
});

describe('rate limits in Redis', () => {
  let redis: { url: string; stop(): Promise<void> } | undefined;
  const clients: Redis[] = [];
  let prefix = '';

  before(async function () {
    redis = await sharedRedis();
    if (!redis) {
      console.log('    (skipped: neither REDIS_URL_TEST nor redis-server on PATH)');
      this.skip();
    }
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await redis?.stop();
  });

  /** Like connectRedis(): the client is ready before the first count (until then the insurance would answer). */
  async function connect(): Promise<Redis> {
    const client = new RedisClient(redis!.url, commandClientOptions(prefix));
    client.on('error', () => {});
    clients.push(client);
    await new Promise((resolve) => client.once('ready', resolve));
    return client;
  }

  async function makeLimits(overrides: { disabled?: boolean } = {}): Promise<RateLimits> {
    prefix = randomPrefix();
    const { logger } = memoryLogger();
    return new RateLimits({ config: { rateLimit: DEFAULTS, rateLimitPolicies: { ...POLICIES, ...overrides } }, logger, redis: await connect(), windowLengths: SHORTEST });
  }

  limiterBehaviour('Redis', makeLimits, { lengths: SHORTEST, pass: sleep });

  it('sends one command per request: all of an API key\'s windows in one call, to count or to peek', async () => {
    const limits = await makeLimits();
    const client = clients.at(-1)!;
    const sent: string[] = [];
    const sendCommand = client.sendCommand.bind(client);
    client.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], ...rest: unknown[]) => {
      sent.push(command.name);
      return (sendCommand as (...args: unknown[]) => unknown)(command, ...rest);
    }) as Redis['sendCommand'];
    const commandsOf = async <T>(run: () => Promise<T>): Promise<{ result: T; commands: string[] }> => {
      sent.length = 0;
      const result = await run();
      return { result, commands: [...sent] };
    };
    const id = keyId();
    const fresh = await commandsOf(() => limits.peekApiKey({ keyId: id, env: 'live' }));
    expect(fresh.result.remaining).to.equal(3);
    // EVALSHA, or EVAL when Redis did not know the script yet.
    expect(fresh.commands).to.have.length(1).and.to.satisfy((names: string[]) => /^eval(sha)?$/.test(names[0]!));
    const counted = await commandsOf(() => limits.consumeApiKey({ keyId: id, env: 'live' }));
    expect(counted.result).to.include({ allowed: true, remaining: 2 });
    expect(counted.commands, 'burst, minute and hour counted in one call').to.have.length(1);
    const peeked = await commandsOf(() => limits.peekApiKey({ keyId: id, env: 'live' }));
    expect(peeked.result).to.include({ allowed: true, remaining: 2 });
    expect(peeked.result.resetEpochSeconds).to.be.within(Math.floor(Date.now() / 1000), Math.ceil(Date.now() / 1000) + SHORTEST.burst);
    expect(peeked.commands).to.have.length(1);
    for (let i = 1; i < POLICIES.keyFailuresPerIpPerMinute; i += 1) await limits.consumeFailedKeyIp('192.0.2.45');
    const guard = await commandsOf(() => limits.isIpBlockedForKeyFailures('192.0.2.45'));
    expect(guard).to.deep.equal({ result: false, commands: ['evalsha'] });
    await limits.consumeFailedKeyIp('192.0.2.45');
    expect(await limits.isIpBlockedForKeyFailures('192.0.2.45')).to.equal(true);
    expect(await limits.isIpBlockedForKeyFailures('192.0.2.46')).to.equal(false);
  });

  it('counts with rate-limiter-flexible\'s arithmetic on its keys: a window whose key lost its TTL gets one again', async () => {
    const limits = await makeLimits();
    const raw = new RedisClient(redis!.url);
    clients.push(raw);
    const id = keyId();
    // A count left behind without a TTL (e.g. written by hand) must not stay forever.
    await raw.set(`${prefix}rl:key:live:minute:${id}`, '2');
    const decision = await limits.consumeApiKey({ keyId: id, env: 'live' });
    expect(decision.windows.find((window) => window.policy === 'minute')).to.include({ remaining: DEFAULTS.perMinute - 3 });
    expect(await raw.pttl(`${prefix}rl:key:live:minute:${id}`)).to.be.within(1, SHORTEST.minute * 1000);
    expect(await raw.pttl(`${prefix}rl:key:live:burst:${id}`)).to.be.within(1, SHORTEST.burst * 1000);
  });

  it('shares counters between instances and keeps them under REDIS_PREFIX', async () => {
    prefix = randomPrefix();
    const { logger } = memoryLogger();
    const config = { rateLimit: DEFAULTS, rateLimitPolicies: POLICIES };
    const first = new RateLimits({ config, logger, redis: await connect(), windowLengths: SHORT });
    const second = new RateLimits({ config, logger, redis: await connect(), windowLengths: SHORT });
    const id = keyId();
    await first.consumeApiKey({ keyId: id, env: 'live' });
    await second.consumeApiKey({ keyId: id, env: 'live' });
    const third = await first.consumeApiKey({ keyId: id, env: 'live' });
    expect(third).to.include({ allowed: true, remaining: 0 });
    expect((await second.consumeApiKey({ keyId: id, env: 'live' })).allowed).to.equal(false);
    expect(first.status()).to.deep.equal({ backend: 'redis', degraded: false, disabled: false });

    const raw = new RedisClient(redis!.url);
    clients.push(raw);
    const keys = (await raw.keys(`${prefix}*`)).sort();
    expect(keys).to.deep.equal([`${prefix}rl:key:live:burst:${id}`, `${prefix}rl:key:live:hour:${id}`, `${prefix}rl:key:live:minute:${id}`]);
    // Four requests reached the burst window (the refused one stays counted there); the
    // minute window got the refused one back.
    expect(await raw.get(`${prefix}rl:key:live:burst:${id}`)).to.equal('4');
    expect(await raw.get(`${prefix}rl:key:live:minute:${id}`)).to.equal('3');
    const ttl = await raw.pttl(`${prefix}rl:key:live:hour:${id}`);
    expect(ttl).to.be.within(1, 8000);

    await first.consumeClient('cli_shared');
    await second.consumeFailedKeyIp('::ffff:192.0.2.44');
    expect(await raw.get(`${prefix}rl:client:cli_shared`)).to.equal('1');
    expect(await raw.get(`${prefix}rl:failed_key_ip:192.0.2.44`)).to.equal('1');
    expect(await first.isIpBlockedForKeyFailures('192.0.2.44')).to.equal(false);
  });
});
