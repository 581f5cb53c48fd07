import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { commandClientOptions } from '../../src/lib/redis.js';
import { RedisCounters } from '../../src/ratelimit/redis_counters.js';
import { randomPrefix, sharedRedis } from './support.js';

/** The Lua counters on their own: what each operation answers, and that they match the library they replaced. */
describe('Redis counters (one Lua call per request)', () => {
  let redis: { url: string; stop(): Promise<void> } | undefined;
  let client: Redis;
  let raw: Redis;
  let prefix: string;

  before(async function () {
    redis = await sharedRedis();
    if (!redis) {
      console.log('    (skipped: neither REDIS_URL_TEST nor redis-server on PATH)');
      this.skip();
    }
    prefix = randomPrefix();
    client = new Redis(redis.url, commandClientOptions(prefix));
    raw = new Redis(redis.url);
    await new Promise((resolve) => client.once('ready', resolve));
  });
  after(async () => {
    client?.disconnect();
    raw?.disconnect();
    await redis?.stop();
  });

  it('counts, takes back, reads and clears, each key in its own window, in one call', async () => {
    const counters = new RedisCounters(client);
    const [a, b] = ['rl:t:a', 'rl:t:b'];
    const first = await counters.run([{ key: a, operation: 'hit', seconds: 60 }, { key: b, operation: 'hit', seconds: 5 }, { key: a, operation: 'hit', seconds: 60 }]);
    expect(first.map((reading) => reading!.consumed)).to.deep.equal([1, 1, 2]);
    expect(first[0]!.msBeforeReset).to.be.within(59_000, 60_000);
    expect(first[1]!.msBeforeReset).to.be.within(4_000, 5_000);
    const [back] = await counters.run([{ key: a, operation: 'refund', seconds: 60 }]);
    expect(back!.consumed).to.equal(1);
    const peeked = await counters.run([{ key: a, operation: 'peek', seconds: 60 }, { key: 'rl:t:never', operation: 'peek', seconds: 60 }]);
    expect(peeked[0]!.consumed).to.equal(1);
    expect(peeked[1], 'nothing counted: no reading').to.equal(null);
    expect(await counters.run([{ key: b, operation: 'clear', seconds: 5 }])).to.deep.equal([null]);
    expect(await raw.exists(`${prefix}${b}`)).to.equal(0);
    // Under the client's prefix, as every other Keyport key.
    expect(await raw.get(`${prefix}${a}`)).to.equal('1');
  });

  it('keeps counting on a count rate-limiter-flexible left, and the library keeps counting on ours (a rolling upgrade)', async () => {
    const counters = new RedisCounters(client);
    const library = new RateLimiterRedis({ storeClient: client, keyPrefix: 'rl:upgrade', points: 1_000, duration: 60 });
    await library.consume('key_1');
    await library.consume('key_1');
    const [ours] = await counters.run([{ key: 'rl:upgrade:key_1', operation: 'hit', seconds: 60 }]);
    expect(ours!.consumed).to.equal(3);
    expect((await library.consume('key_1')).consumedPoints).to.equal(4);
    expect((await library.get('key_1'))!.msBeforeNext).to.be.within(1, 60_000);
  });

  it('says whether a command can be sent now (no offline queue)', async () => {
    const detached = new Redis(redis!.url, { ...commandClientOptions(prefix), lazyConnect: true });
    try {
      const counters = new RedisCounters(detached);
      expect(counters.ready).to.equal(false);
      await detached.connect();
      expect(counters.ready).to.equal(true);
    } finally {
      detached.disconnect();
    }
  });
});
