import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { connectRedis, subscriberConnection, closeRedis } from '../../src/lib/redis.js';
import { BUS_RECONNECTED_CHANNEL, RedisBus } from '../../src/lib/redis_bus.js';
import { hasRedisServer, memoryLogger, randomPrefix, RedisServer, sleep } from '../ratelimit/support.js';

interface Node {
  bus: RedisBus;
  redis: Redis;
  lines: string[];
  close(): Promise<void>;
}

async function node(url: string, prefix: string): Promise<Node> {
  const { logger, lines } = memoryLogger();
  const redis = await connectRedis(url, prefix, logger, { readyTimeoutMs: 500 });
  const bus = new RedisBus(redis, subscriberConnection(redis, logger), { prefix, logger });
  return { bus, redis, lines, close: async () => { await bus.close(); await closeRedis(redis); } };
}

function collector(bus: RedisBus, channel: string): string[] {
  const seen: string[] = [];
  bus.subscribe(channel, (message) => seen.push(message));
  return seen;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('Redis event bus', function () {
  this.timeout(30_000);
  let server: RedisServer;

  before(async function () {
    if (!hasRedisServer()) {
      console.log('    (skipped: redis-server is not on PATH)');
      this.skip();
    }
    server = await RedisServer.start();
  });
  after(async () => { await server?.kill(); });

  it('delivers to other instances and to the publisher once, per channel, and unsubscribes', async () => {
    const prefix = randomPrefix();
    const [one, two] = [await node(server.url, prefix), await node(server.url, prefix)];
    const other = await node(server.url, randomPrefix());
    try {
      const onOne = collector(one.bus, 'session.ended');
      const onTwo = collector(two.bus, 'session.ended');
      const onTwoOtherChannel = collector(two.bus, 'key.revoked');
      const onOtherDeployment = collector(other.bus, 'session.ended');
      await Promise.all([one.bus.whenSubscribed(), two.bus.whenSubscribed(), other.bus.whenSubscribed()]);

      await one.bus.publish('session.ended', 'ses_1');
      expect(onOne, 'the publisher hears its own message at once').to.deep.equal(['ses_1']);
      await until(() => onTwo.length === 1, 1000, 'delivery to the other instance');
      await sleep(100);
      expect(onOne).to.deep.equal(['ses_1']);
      expect(onTwo).to.deep.equal(['ses_1']);
      expect(onTwoOtherChannel).to.deep.equal([]);
      expect(onOtherDeployment, 'another REDIS_PREFIX is another deployment').to.deep.equal([]);

      const seen: string[] = [];
      const unsubscribe = two.bus.subscribe('key.revoked', (message) => seen.push(message));
      await two.bus.whenSubscribed();
      unsubscribe();
      await one.bus.publish('key.revoked', 'key_1');
      await until(() => onTwoOtherChannel.length === 1, 1000, 'delivery to the remaining handler');
      expect(seen).to.deep.equal([]);
    } finally {
      await Promise.all([one.close(), two.close(), other.close()]);
    }
  });

  it('keeps other handlers running when one throws', async () => {
    const prefix = randomPrefix();
    const [one, two] = [await node(server.url, prefix), await node(server.url, prefix)];
    try {
      two.bus.subscribe('key.revoked', () => { throw new Error('handler bug'); });
      const seen = collector(two.bus, 'key.revoked');
      await two.bus.whenSubscribed();
      await one.bus.publish('key.revoked', 'key_2');
      await until(() => seen.length === 1, 1000, 'delivery despite a failing handler');
      expect(two.lines.some((line) => line.includes('bus: a message handler failed'))).to.equal(true);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('survives a Redis outage: local delivery continues, publishing does not throw, subscriptions come back', async () => {
    const own = await RedisServer.start();
    const prefix = randomPrefix();
    const [one, two] = [await node(own.url, prefix), await node(own.url, prefix)];
    try {
      const onOne = collector(one.bus, 'key.revoked');
      const onTwo = collector(two.bus, 'key.revoked');
      const reconnected: string[] = [];
      two.bus.subscribe(BUS_RECONNECTED_CHANNEL, () => reconnected.push('again'));
      await Promise.all([one.bus.whenSubscribed(), two.bus.whenSubscribed()]);

      await own.kill();
      await sleep(100);
      await one.bus.publish('key.revoked', 'during-1');
      await one.bus.publish('key.revoked', 'during-2');
      expect(onOne).to.deep.equal(['during-1', 'during-2']);
      expect(one.lines.filter((line) => line.includes('bus: Redis unavailable'))).to.have.length(1);

      await own.restart();
      await until(() => reconnected.length > 0, 10_000, 'the subscriber to reconnect');
      await until(() => one.redis.status === 'ready', 10_000, 'the publisher to reconnect');
      await one.bus.publish('key.revoked', 'after');
      await until(() => onTwo.includes('after'), 2000, 'delivery after the outage');
      expect(onTwo).to.deep.equal(['after']);
      expect(one.lines.some((line) => line.includes('bus: publishing to Redis again'))).to.equal(true);
    } finally {
      await Promise.all([one.close(), two.close()]);
      await own.kill();
    }
  });
});
