import { performance } from 'node:perf_hooks';
import type { RedisClient } from '../lib/redis.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { CircuitBreaker } from '../lib/circuit_breaker.js';
import type { Logger } from '../lib/logger.js';
import type { CounterReading } from './decision.js';

/**
 * The library only counts; Keyport decides. Limits differ per key (overrides) while a
 * rate-limiter-flexible limiter has one `points` value, so every limiter gets an unreachable
 * one and `decide()` compares the count with the key's own limit.
 */
const COUNT_ONLY = Number.MAX_SAFE_INTEGER;

const FROM_INSURANCE = Symbol('keyport.fromInsurance');

type Tagged = RateLimiterRes & { [FROM_INSURANCE]?: true };

/** The in-memory counters of one window that answer while Redis is away. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(options: { keyPrefix: string; duration: number }) {
    super({ ...options, points: COUNT_ONLY });
  }

  override async consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    const res = (await super.consume(key, points, options)) as Tagged;
    res[FROM_INSURANCE] = true;
    return res;
  }

  override async get(key: string | number, options?: Record<string, unknown>): Promise<RateLimiterRes | null> {
    const res = (await super.get(key, options)) as Tagged | null;
    if (res) res[FROM_INSURANCE] = true;
    return res;
  }
}

/**
 * rate-limiter-flexible's Redis limiter, with a peek (`get`) that rides ioredis's automatic
 * pipelining. The library reads a count as MULTI / GET / PTTL / EXEC, and a transaction is never
 * pipelined with other requests' commands: each peek cost a socket write of its own. The key-guess
 * guard peeks on every API-key request, and that write was a quarter of the CPU of
 * `GET /auth/test` with limits on and Redis. Two plain commands sent together answer the same
 * (a count and its expiry read a moment apart: a key that expires in between reads as expired),
 * and the library's `get` keeps its readiness check, insurance and result mapping.
 * Overrides `_get` of rate-limiter-flexible 11: test/ratelimit/limiter.test.ts fails if a peek sends a transaction again.
 */
class PipelinedPeekLimiter extends RateLimiterRedis {
  private readonly redis: RedisClient;

  constructor(options: ConstructorParameters<typeof RateLimiterRedis>[0] & { storeClient: RedisClient }) {
    super(options);
    this.redis = options.storeClient;
  }

  // biome-ignore lint/suspicious/noExplicitAny: the library's internal result shape (ioredis's [error, value] pairs)
  protected async _get(rlKey: string): Promise<any> {
    if (this.redis.status !== 'ready') throw new Error('Redis connection is not ready');
    const [points, ttl] = await Promise.all([this.redis.get(rlKey), this.redis.pttl(rlKey)]);
    return points === null ? null : [[null, points], [null, ttl]];
  }
}

/**
 * What the Redis limiter falls back to when a command fails: the window's insurance counters
 * (the same ones used while the circuit is open, so counting goes on seamlessly), reporting each
 * fallback as a failure of Redis.
 */
class ReportingInsurance extends RateLimiterMemory {
  constructor(private readonly insurance: InsuranceLimiter, private readonly onFallback: () => void) {
    super({ points: COUNT_ONLY, duration: 1 });
  }

  override consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    this.onFallback();
    return this.insurance.consume(key, points, options);
  }

  override reward(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    this.onFallback();
    return this.insurance.reward(key, points, options);
  }

  override delete(key: string | number, options?: Record<string, unknown>): Promise<boolean> {
    this.onFallback();
    return this.insurance.delete(key, options);
  }

  /** Never null: "nothing counted" comes back tagged too, so the caller can tell it from Redis's null. */
  override async get(key: string | number, options?: Record<string, unknown>): Promise<RateLimiterRes | null> {
    this.onFallback();
    const res = (await this.insurance.get(key, options)) ?? Object.assign(new RateLimiterRes(0, 0, 0, false), { [FROM_INSURANCE]: true });
    return res;
  }
}

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

/** A peek's reading; memory records linger a moment past their expiry, so a finished window counts as empty. */
function currentReading(res: RateLimiterRes | null): CounterReading | null {
  if (!res || (res.msBeforeNext <= 0 && res.msBeforeNext !== -1)) return null;
  return toReading(res);
}

/**
 * Counters in process memory, or in Redis (atomic Lua increments shared by every instance)
 * with an in-memory insurance limiter per window. When Redis is unreachable or slow, the
 * insurance answers: requests keep being served, limits hold per instance, one warning is
 * logged. With a circuit breaker, failures in a row open the circuit and the insurance answers at
 * once, without asking Redis, until a probe finds it answering; the first answer Redis gives
 * again ends the degraded state.
 */
export class CounterStore {
  private readonly counters = new Map<string, WindowCounter>();
  /** `performance.now()` when the insurance began answering: only the length is reported. */
  private degradedSince: number | undefined;

  constructor(private readonly options: { redis?: RedisClient; breaker?: CircuitBreaker; logger: Logger }) {}

  get backend(): StoreBackend {
    return this.options.redis ? 'redis' : 'memory';
  }

  /** True while Redis is configured but the in-memory insurance is answering. */
  get degraded(): boolean {
    return this.degradedSince !== undefined || (this.options.breaker !== undefined && !this.options.breaker.allowsCalls);
  }

  counter(namespace: string, seconds: number): WindowCounter {
    const id = `${namespace}:${seconds}`;
    let counter = this.counters.get(id);
    if (!counter) {
      counter = this.build(`rl:${namespace}`, seconds);
      this.counters.set(id, counter);
    }
    return counter;
  }

  private build(keyPrefix: string, duration: number): WindowCounter {
    const { redis, breaker } = this.options;
    if (!redis) {
      const memory = new RateLimiterMemory({ keyPrefix, points: COUNT_ONLY, duration });
      return {
        hit: async (subject) => toReading(await memory.consume(subject, 1)),
        refund: async (subject) => { await memory.reward(subject, 1); },
        peek: async (subject) => currentReading(await memory.get(subject)),
        clear: async (subject) => { await memory.delete(subject); },
      };
    }
    const insurance = new InsuranceLimiter({ keyPrefix, duration });
    const viaRedis: RateLimiterAbstract = new PipelinedPeekLimiter({
      storeClient: redis,
      keyPrefix,
      points: COUNT_ONLY,
      duration,
      // Not connected: go to the insurance at once instead of waiting for an error.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new ReportingInsurance(insurance, () => this.fallbackUsed()),
    });
    // The circuit open: the insurance answers without a round trip to Redis.
    const limiter = (): RateLimiterAbstract => (breaker && !breaker.allowsCalls ? insurance : viaRedis);
    const observe = <T extends Tagged | null>(chosen: RateLimiterAbstract, res: T): T => {
      // Redis answered (the insurance tags what it counts; `null` from Redis means "nothing counted").
      if (chosen === viaRedis && !res?.[FROM_INSURANCE]) this.servedByRedis();
      return res;
    };

    return {
      hit: async (subject) => {
        const chosen = limiter();
        return toReading(observe(chosen, (await chosen.consume(subject, 1)) as Tagged));
      },
      refund: async (subject) => {
        await limiter().reward(subject, 1);
      },
      clear: async (subject) => {
        await limiter().delete(subject);
      },
      peek: async (subject) => {
        const chosen = limiter();
        return currentReading(observe(chosen, (await chosen.get(subject)) as Tagged | null));
      },
    };
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
