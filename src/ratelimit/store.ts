import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
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

/** The in-memory limiter that answers while Redis is away; it tells the store when it is used. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(options: { keyPrefix: string; duration: number }, private readonly onUse: () => void) {
    super({ ...options, points: COUNT_ONLY });
  }

  override async consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    this.onUse();
    const res = (await super.consume(key, points, options)) as Tagged;
    res[FROM_INSURANCE] = true;
    return res;
  }

  override async reward(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    this.onUse();
    return super.reward(key, points, options);
  }

  override async delete(key: string | number, options?: Record<string, unknown>): Promise<boolean> {
    this.onUse();
    return super.delete(key, options);
  }

  override async get(key: string | number, options?: Record<string, unknown>): Promise<RateLimiterRes | null> {
    this.onUse();
    const res = (await super.get(key, options)) as Tagged | null;
    if (res) res[FROM_INSURANCE] = true;
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

/**
 * Counters in process memory, or in Redis (atomic Lua increments shared by every instance)
 * with an in-memory insurance limiter per window. When Redis is unreachable or slow, the
 * insurance answers at once: requests keep being served, limits hold per instance, one warning
 * is logged; the first answer Redis gives again ends the degraded state.
 */
export class CounterStore {
  private readonly counters = new Map<string, WindowCounter>();
  private degradedSince: number | undefined;

  constructor(private readonly options: { redis?: Redis; logger: Logger }) {}

  get backend(): StoreBackend {
    return this.options.redis ? 'redis' : 'memory';
  }

  /** True while Redis is configured but the in-memory insurance is answering. */
  get degraded(): boolean {
    return this.degradedSince !== undefined;
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
    const { redis } = this.options;
    const limiter: RateLimiterAbstract = redis
      ? new RateLimiterRedis({
        storeClient: redis,
        keyPrefix,
        points: COUNT_ONLY,
        duration,
        // Not connected: go to the insurance at once instead of waiting for an error.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new InsuranceLimiter({ keyPrefix, duration }, () => this.fallbackUsed()),
      })
      : new RateLimiterMemory({ keyPrefix, points: COUNT_ONLY, duration });

    const observe = <T extends Tagged | null>(res: T): T => {
      if (redis && res && !res[FROM_INSURANCE]) this.servedByRedis();
      return res;
    };

    return {
      hit: async (subject) => toReading(observe((await limiter.consume(subject, 1)) as Tagged)),
      refund: async (subject) => {
        await limiter.reward(subject, 1);
      },
      clear: async (subject) => {
        await limiter.delete(subject);
      },
      peek: async (subject) => {
        const res = observe((await limiter.get(subject)) as Tagged | null);
        // Memory records linger a moment past their expiry; a finished window counts as empty.
        if (!res || (res.msBeforeNext <= 0 && res.msBeforeNext !== -1)) return null;
        return toReading(res);
      },
    };
  }

  private fallbackUsed(): void {
    if (this.degradedSince !== undefined) return;
    this.degradedSince = Date.now();
    this.options.logger.warn('rate limits: Redis is unavailable; counting in this instance\'s memory until it returns (limits are per instance meanwhile)');
  }

  private servedByRedis(): void {
    if (this.degradedSince === undefined) return;
    const seconds = Math.round((Date.now() - this.degradedSince) / 1000);
    this.degradedSince = undefined;
    this.options.logger.info('rate limits: Redis is back; limits are shared by all instances again', { degraded_seconds: seconds });
  }
}
