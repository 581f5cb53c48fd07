import { once } from 'node:events';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { CircuitBreaker, type CircuitState } from '../../src/lib/circuit_breaker.js';
import { commandClientOptions, subscriberConnection } from '../../src/lib/redis.js';
import { BUS_RECONNECTED_CHANNEL, RedisBus } from '../../src/lib/redis_bus.js';
import { memoryLogger, sharedRedis, sleep } from '../ratelimit/support.js';
import { until } from '../support/until.js';

/** A probe the test answers by hand. */
function manualProbe(): { probe: () => Promise<void>; calls: number; answer(ok: boolean): void } {
  const state = {
    calls: 0,
    pending: [] as Array<{ resolve(): void; reject(err: Error): void }>,
    probe: () => {
      state.calls += 1;
      return new Promise<void>((resolve, reject) => state.pending.push({ resolve, reject }));
    },
    answer(ok: boolean) {
      const next = state.pending.shift();
      if (!next) throw new Error('no probe is waiting');
      if (ok) next.resolve();
      else next.reject(new Error('still down'));
    },
  };
  return state;
}

describe('resilience: circuit breaker', () => {
  it('opens after the threshold of failures in a row, probes at once and then on an interval, and closes when a probe answers', async () => {
    const { logger, lines } = memoryLogger('info');
    const probe = manualProbe();
    const breaker = new CircuitBreaker({ name: 'thing', failureThreshold: 3, probeIntervalMs: 30, probe: probe.probe, logger });
    const changes: CircuitState[] = [];
    breaker.onChange((state) => changes.push(state));
    try {
      breaker.failed();
      breaker.failed();
      breaker.succeeded();
      breaker.failed();
      breaker.failed();
      expect(breaker.allowsCalls, 'an answer in between resets the count').to.equal(true);
      breaker.failed(new Error('Command timed out'));
      expect(breaker.state).to.equal('open');
      expect(breaker.allowsCalls).to.equal(false);
      expect(changes).to.deep.equal(['open']);

      await until('the first probe', () => probe.calls === 1, 3000, 10);
      expect(breaker.state).to.equal('half-open');
      expect(breaker.allowsCalls).to.equal(false);
      probe.answer(false);
      await until('the failed probe to reopen the circuit', () => breaker.state === 'open', 3000, 10);
      breaker.failed();
      await until('the next probe, an interval later', () => probe.calls === 2, 3000, 10);
      probe.answer(true);
      await until('the circuit to close', () => breaker.state === 'closed', 3000, 10);
      expect(breaker.allowsCalls).to.equal(true);
      expect(changes).to.deep.equal(['open', 'closed']);
      const messages = lines.map((line) => JSON.parse(line) as { level: string; message: string; reason?: string });
      expect(messages.filter((line) => line.message.startsWith('thing: circuit open'))).to.have.length(1);
      expect(messages.find((line) => line.message.startsWith('thing: circuit open'))).to.include({ level: 'warn', reason: 'Command timed out' });
      expect(messages.filter((line) => line.message === 'thing: answering again; circuit closed')).to.have.length(1);
    } finally {
      breaker.close();
    }
  });

  it('probes at once when told the dependency may be back (a reconnection), not an interval later', async () => {
    const probe = manualProbe();
    const breaker = new CircuitBreaker({ name: 'thing', failureThreshold: 1, probeIntervalMs: 60_000, probe: probe.probe, logger: memoryLogger().logger });
    try {
      breaker.failed();
      await until('the first probe', () => probe.calls === 1, 3000, 10);
      probe.answer(false);
      await until('the circuit to stay open', () => breaker.state === 'open', 3000, 10);
      breaker.probeSoon();
      await until('the early probe', () => probe.calls === 2, 3000, 10);
      probe.answer(true);
      await until('the circuit to close', () => breaker.allowsCalls, 3000, 10);
    } finally {
      breaker.close();
    }
  });

  it('stops probing when closed for shutdown', async () => {
    const probe = manualProbe();
    const breaker = new CircuitBreaker({ name: 'thing', failureThreshold: 1, probeIntervalMs: 10, probe: probe.probe, logger: memoryLogger().logger });
    breaker.close();
    breaker.failed();
    await sleep(50);
    expect(probe.calls).to.equal(0);
  });

  describe('on the Redis bus', function () {
    this.timeout(20_000);
    let redis: { url: string; stop(): Promise<void> } | undefined;
    before(async function () {
      redis = await sharedRedis();
      if (!redis) this.skip();
    });
    after(async () => { await redis?.stop(); });

    it('publishes to this instance only while open, and tells the caches to look at the database when it closes', async () => {
      const prefix = `kp-test-${randomBytes(6).toString('hex')}:`;
      const { logger } = memoryLogger();
      const clients = [new Redis(redis!.url, commandClientOptions('')), new Redis(redis!.url, commandClientOptions(''))];
      const probe = manualProbe();
      const breaker = new CircuitBreaker({ name: 'redis', failureThreshold: 1, probeIntervalMs: 10, probe: probe.probe, logger });
      const a = new RedisBus(clients[0]!, subscriberConnection(clients[0]!, logger), { prefix, logger, breaker });
      const b = new RedisBus(clients[1]!, subscriberConnection(clients[1]!, logger), { prefix, logger });
      try {
        const onA: string[] = [];
        const onB: string[] = [];
        a.subscribe('test.channel', (message) => onA.push(message));
        b.subscribe('test.channel', (message) => onB.push(message));
        let reconnected = 0;
        a.subscribe(BUS_RECONNECTED_CHANNEL, () => { reconnected += 1; });
        // The publishing clients refuse commands until connected (no offline queue, as in production,
        // where connectRedis waits for this): publishing earlier would open A's circuit at once.
        await Promise.all(clients.map((client) => (client.status === 'ready' ? undefined : once(client, 'ready'))));
        await Promise.all([a.whenSubscribed(), b.whenSubscribed()]);

        await a.publish('test.channel', 'while closed');
        await until('B to hear the first message', () => onB.length === 1, 3000, 10);

        breaker.failed(new Error('Command timed out'));
        await a.publish('test.channel', 'while open');
        expect(onA).to.deep.equal(['while closed', 'while open']);
        await sleep(200);
        expect(onB, 'not sent to Redis while the circuit is open').to.deep.equal(['while closed']);

        await until('the probe', () => probe.calls === 1, 3000, 10);
        expect(reconnected).to.equal(0);
        probe.answer(true);
        await until('the reconnection notice', () => reconnected === 1, 3000, 10);
        await a.publish('test.channel', 'closed again');
        await until('B to hear the next message', () => onB.length === 2, 3000, 10);
        expect(onB).to.deep.equal(['while closed', 'closed again']);
      } finally {
        breaker.close();
        await a.close();
        await b.close();
        for (const client of clients) client.disconnect();
      }
    });
  });
});
