import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { commandClientOptions } from '../../src/lib/redis.js';
import { MAX_KEYS_PER_COMMAND, RedisCounters } from '../../src/ratelimit/redis_counters.js';
import { FaultProxy } from '../support/fault_proxy.js';
import { until } from '../support/until.js';
import { randomPrefix, sharedRedis } from './support.js';

/** The Lua counters on their own: what each operation answers, and that they match the library they replaced. */
describe('Redis counters (one Lua call per request, and per turn)', () => {
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

  /** Counts the script commands (EVALSHA/EVAL) the client sends while `work` runs. */
  async function scriptCommandsDuring<T>(work: () => Promise<T>): Promise<{ result: T; commands: number }> {
    let commands = 0;
    const original = client.sendCommand.bind(client);
    client.sendCommand = ((command: { name: string }) => {
      if (command.name === 'evalsha' || command.name === 'eval') commands += 1;
      return original(command as never);
    }) as typeof client.sendCommand;
    try {
      return { result: await work(), commands };
    } finally {
      client.sendCommand = original;
    }
  }

  it('sends the requests of one turn in one command, each counted in the order asked, each answered with its own readings', async () => {
    const counters = new RedisCounters(client);
    const { result, commands } = await scriptCommandsDuring(() => Promise.all([
      counters.run([{ key: 'rl:turn:key', operation: 'hit', seconds: 60 }, { key: 'rl:turn:ip', operation: 'peek', seconds: 60 }]),
      counters.run([{ key: 'rl:turn:key', operation: 'hit', seconds: 60 }]),
      counters.run([{ key: 'rl:turn:other', operation: 'hit', seconds: 5 }, { key: 'rl:turn:key', operation: 'hit', seconds: 60 }, { key: 'rl:turn:key', operation: 'refund', seconds: 60 }]),
      counters.run([{ key: 'rl:turn:key', operation: 'peek', seconds: 60 }]),
    ]));
    expect(commands).to.equal(1);
    expect(result.map((readings) => readings.map((reading) => reading?.consumed ?? null))).to.deep.equal([[1, null], [2], [1, 3, 2], [2]]);
    expect(result[2]![0]!.msBeforeReset).to.be.within(4_000, 5_000);
    // A request in a later turn is a command of its own.
    const later = await scriptCommandsDuring(() => counters.run([{ key: 'rl:turn:key', operation: 'hit', seconds: 60 }]));
    expect(later.commands).to.equal(1);
    expect(later.result[0]!.consumed).to.equal(3);
  });

  it('sends a turn\'s command while the previous turn\'s command still waits for its reply', async () => {
    // Under load the key-guess guard's read and the key's count come in consecutive turns: the
    // second must not queue behind the first's round trip (ioredis's automatic pipelining kept
    // one pipeline in flight per connection and held later commands back until its reply).
    const target = new URL(redis!.url);
    const proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    const viaProxy = new Redis(`redis://127.0.0.1:${proxy.port}`, commandClientOptions(prefix));
    try {
      await new Promise((resolve) => viaProxy.once('ready', resolve));
      const counters = new RedisCounters(viaProxy);
      // The first call on a connection sends the script itself (EVAL); later ones its hash.
      await counters.run([{ key: 'rl:inflight:warm', operation: 'hit', seconds: 60 }]);
      proxy.freeze();
      const first = counters.run([{ key: 'rl:inflight:a', operation: 'hit', seconds: 60 }]);
      await new Promise((resolve) => setImmediate(resolve));
      const second = counters.run([{ key: 'rl:inflight:b', operation: 'hit', seconds: 60 }]);
      // Settled whatever happens below, so that a failure here is reported, not an unhandled rejection.
      const outcomes = Promise.allSettled([first, second]);
      const held = (): number => proxy.heldFromClients().toString('latin1').toLowerCase().split('evalsha').length - 1;
      await until('both turns\' commands to be on the wire while the first awaits its reply', () => held() === 2, 500, 10);
      await proxy.pass();
      const answers = (await outcomes).map((outcome) => (outcome.status === 'fulfilled' ? outcome.value[0]!.consumed : String(outcome.reason)));
      expect(answers).to.deep.equal([1, 1]);
    } finally {
      viaProxy.disconnect();
      await proxy.close();
    }
  });

  it('splits a turn with more keys than one command carries, and fails every request of a failed command', async () => {
    const counters = new RedisCounters(client);
    const requests = Math.ceil(MAX_KEYS_PER_COMMAND / 3) + 5;
    const { result, commands } = await scriptCommandsDuring(() => Promise.all(Array.from({ length: requests }, () => counters.run([
      { key: 'rl:split:burst', operation: 'hit', seconds: 10 }, { key: 'rl:split:minute', operation: 'hit', seconds: 60 }, { key: 'rl:split:hour', operation: 'hit', seconds: 3600 },
    ]))));
    expect(commands).to.equal(2);
    expect(result.map((readings) => readings[2]!.consumed)).to.deep.equal(Array.from({ length: requests }, (_, i) => i + 1));

    // A key of another type makes the script fail: every request that shared the command hears it.
    await raw.rpush(`${prefix}rl:split:list`, 'x');
    const outcomes = await Promise.allSettled([
      counters.run([{ key: 'rl:split:burst', operation: 'hit', seconds: 10 }]),
      counters.run([{ key: 'rl:split:list', operation: 'hit', seconds: 10 }]),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).to.deep.equal(['rejected', 'rejected']);
  });
});

