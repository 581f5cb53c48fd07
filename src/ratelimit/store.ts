import { performance } from 'node:perf_hooks';
import type { RedisClient } from '../lib/redis.js';
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import type { CircuitBreaker } from '../lib/circuit_breaker.js';
import type { Logger } from '../lib/logger.js';
import type { CounterReading } from './decision.js';
import { type CounterOperation, RedisCounters } from './redis_counters.js';

/**
 * In memory, rate-limiter-flexible counts (in Redis, src/ratelimit/redis_counters.ts); Keyport
 * decides. Limits differ per key (overrides) while a library limiter has one `points` value, so
 * every limiter gets an unreachable one and `decide()` compares the count with the key's own limit.
 */
const COUNT_ONLY = Number.MAX_SAFE_INTEGER;

/** One fixed window of one namespace (e.g. live API keys, per minute), counted per subject. */
export interface WindowCounter {
  /** Counts one request and returns the count including it. */
  hit(subject: string): Promise<CounterReading>;
  /** Takes one request back (a request refused by another window must not use this one up). */
  refund(subject: string): Promise<void>;
  /** The current count without counting; `null` when nothing was counted in this window. */
  peek(subject: string): Promise<CounterReading | null>;
  /** Forgets the subject's count in this window. */
  clear(subject: string): Promise<void>;
}

export type StoreBackend = 'memory' | 'redis';

function toReading(res: RateLimiterRes): CounterReading {
  return { consumed: res.consumedPoints, msBeforeReset: res.msBeforeNext };
}

/**
 * A peek's reading in memory: the library's records linger a moment past their expiry, so a
 * finished window counts as empty. (Redis answers -2 for an expired key, which already reads as nothing.)
 */
function currentReading(reading: CounterReading | null): CounterReading | null {
  if (!reading || (reading.msBeforeReset <= 0 && reading.msBeforeReset !== -1)) return null;
  return reading;
}

/** A window counted by rate-limiter-flexible in this process's memory. */
class MemoryWindow implements WindowCounter {
  private readonly limiter: RateLimiterMemory;

  constructor(keyPrefix: string, duration: number) {
    this.limiter = new RateLimiterMemory({ keyPrefix, points: COUNT_ONLY, duration });
  }

  async hit(subject: string): Promise<CounterReading> {
    return toReading(await this.limiter.consume(subject, 1));
  }

  async refund(subject: string): Promise<void> {
    await this.limiter.reward(subject, 1);
  }

  async peek(subject: string): Promise<CounterReading | null> {
    const res = await this.limiter.get(subject);
    return currentReading(res ? toReading(res) : null);
  }

  async clear(subject: string): Promise<void> {
    await this.limiter.delete(subject);
  }

  /** One operation, as the Redis window's fallback runs it. */
  async run(subject: string, operation: CounterOperation): Promise<CounterReading | null> {
    switch (operation) {
      case 'hit': return this.hit(subject);
      case 'peek': return this.peek(subject);
      case 'refund': await this.refund(subject); return null;
      case 'clear': await this.clear(subject); return null;
    }
  }
}

/** A window's counter and whom it counts. */
export interface CounterEntry {
  readonly counter: WindowCounter;
  readonly subject: string;
}

/** One operation on a counter of a window, as `CounterStore.runOnRedis` takes it. */
interface WindowCall {
  readonly window: RedisWindow;
  readonly subject: string;
  readonly operation: CounterOperation;
}

/**
 * A window counted in Redis (`<keyPrefix>:<subject>`, the key rate-limiter-flexible's Redis
 * limiter used), with in-memory insurance counters that answer while Redis is away.
 */
class RedisWindow implements WindowCounter {
  readonly insurance: MemoryWindow;

  constructor(readonly keyPrefix: string, readonly seconds: number, private readonly store: CounterStore) {
    this.insurance = new MemoryWindow(keyPrefix, seconds);
  }

  async hit(subject: string): Promise<CounterReading> {
    return (await this.store.runOnRedis([{ window: this, subject, operation: 'hit' }]))[0]!;
  }

  async refund(subject: string): Promise<void> {
    await this.store.runOnRedis([{ window: this, subject, operation: 'refund' }]);
  }

  async peek(subject: string): Promise<CounterReading | null> {
    return (await this.store.runOnRedis([{ window: this, subject, operation: 'peek' }]))[0] ?? null;
  }

  async clear(subject: string): Promise<void> {
    await this.store.runOnRedis([{ window: this, subject, operation: 'clear' }]);
  }
}

/**
 * Counters in process memory, or in Redis (one Lua call per request, shared by every instance:
 * src/ratelimit/redis_counters.ts) with an in-memory insurance counter per window. When Redis is
 * unreachable or slow, the insurance answers: requests keep being served, limits hold per
 * instance, one warning is logged. With a circuit breaker, failures in a row open the circuit and
 * the insurance answers at once, without asking Redis, until a probe finds it answering; the
 * first answer Redis gives again ends the degraded state.
 */
export class CounterStore {
  private readonly counters = new Map<string, WindowCounter>();
  private readonly redis: RedisCounters | undefined;
  /** `performance.now()` when the insurance began answering: only the length is reported. */
  private degradedSince: number | undefined;

  constructor(private readonly options: { redis?: RedisClient; breaker?: CircuitBreaker; logger: Logger }) {
    this.redis = options.redis ? new RedisCounters(options.redis) : undefined;
  }

  get backend(): StoreBackend {
    return this.redis ? 'redis' : 'memory';
  }

  /** True while Redis is configured but the in-memory insurance is answering. */
  get degraded(): boolean {
    return this.degradedSince !== undefined || (this.options.breaker !== undefined && !this.options.breaker.allowsCalls);
  }

  counter(namespace: string, seconds: number): WindowCounter {
    const id = `${namespace}:${seconds}`;
    let counter = this.counters.get(id);
    if (!counter) {
      counter = this.redis ? new RedisWindow(`rl:${namespace}`, seconds, this) : new MemoryWindow(`rl:${namespace}`, seconds);
      this.counters.set(id, counter);
    }
    return counter;
  }

  /** Counts one request in each of several windows (all of a request's windows in one Redis call). */
  hitAll(hits: readonly CounterEntry[]): Promise<CounterReading[]> {
    return this.all('hit', hits) as Promise<CounterReading[]>;
  }

  /** Reads several windows without counting (in one Redis call); `null` for a window with nothing counted. */
  peekAll(peeks: readonly CounterEntry[]): Promise<Array<CounterReading | null>> {
    return this.all('peek', peeks);
  }

  private all(operation: 'hit' | 'peek', entries: readonly CounterEntry[]): Promise<Array<CounterReading | null>> {
    if (entries.every(({ counter }) => counter instanceof RedisWindow)) {
      return this.runOnRedis(entries.map(({ counter, subject }) => ({ window: counter as RedisWindow, subject, operation })));
    }
    return Promise.all(entries.map(({ counter, subject }) => (operation === 'hit' ? counter.hit(subject) : counter.peek(subject))));
  }

  /** Runs the calls in one Redis command, or, with Redis away or the circuit open, on each window's insurance. */
  async runOnRedis(calls: readonly WindowCall[]): Promise<Array<CounterReading | null>> {
    const { breaker } = this.options;
    // The circuit open: the insurance answers without a round trip to Redis.
    if (breaker && !breaker.allowsCalls) return this.runOnInsurance(calls);
    try {
      // No offline queue: a command sent while disconnected would only fail; go to the insurance at once.
      if (!this.redis!.ready) throw new Error('Redis connection is not ready');
      const readings = await this.redis!.run(calls.map(({ window, subject, operation }) => ({ key: `${window.keyPrefix}:${subject}`, operation, seconds: window.seconds })));
      this.servedByRedis();
      return readings;
    } catch {
      this.fallbackUsed();
      return this.runOnInsurance(calls);
    }
  }

  private runOnInsurance(calls: readonly WindowCall[]): Promise<Array<CounterReading | null>> {
    return Promise.all(calls.map(({ window, subject, operation }) => window.insurance.run(subject, operation)));
  }

  private fallbackUsed(): void {
    this.options.breaker?.failed('a rate-limit command failed');
    if (this.degradedSince !== undefined) return;
    this.degradedSince = performance.now();
    this.options.logger.warn('rate limits: Redis is unavailable; counting in this instance\'s memory until it returns (limits are per instance meanwhile)');
  }

  private servedByRedis(): void {
    this.options.breaker?.succeeded();
    if (this.degradedSince === undefined) return;
    const seconds = Math.round((performance.now() - this.degradedSince) / 1000);
    this.degradedSince = undefined;
    this.options.logger.info('rate limits: Redis is back; limits are shared by all instances again', { degraded_seconds: seconds });
  }
}
