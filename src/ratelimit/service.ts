import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { Logger } from '../lib/logger.js';
import { decide, type CounterReading, type RateLimitDecision, type WindowReading } from './decision.js';
import {
  apiKeyWindows, DEFAULT_WINDOW_LENGTHS, singleWindow,
  type ApiKeyLimitOverrides, type KeyEnvironment, type LimiterName, type WindowLengths, type WindowPolicy,
} from './policies.js';
import { CounterStore, type StoreBackend, type WindowCounter } from './store.js';
import { ipBucket } from './subjects.js';

export interface ApiKeySubject {
  /** The key's ID (`key_…`), never the key itself. */
  readonly keyId: string;
  readonly env: KeyEnvironment;
  /** The key's own limits, if it has any (missing windows use the configured defaults). */
  readonly overrides?: ApiKeyLimitOverrides;
}

export interface RateLimitsOptions {
  readonly config: Pick<Config, 'rateLimit' | 'rateLimitPolicies'>;
  readonly logger: Logger;
  /** Shared counters; in-process counters without it. */
  readonly redis?: Redis;
  /** Shorter windows for tests. */
  readonly windowLengths?: Partial<WindowLengths>;
}

export interface RateLimitStatus {
  readonly backend: StoreBackend;
  /** Redis is configured but unreachable: limits are per instance until it returns. */
  readonly degraded: boolean;
  readonly disabled: boolean;
}

/**
 * The limits of SPEC §5, as decisions (allowed or not, with what is left) that routes turn into
 * headers and 429s. Knows nothing of koa. Every method counts one request unless it says
 * "peek"; a request refused by one window is taken back from the others, so refusals do not
 * use up the longer windows.
 */
export class RateLimits {
  private readonly store: CounterStore;
  private readonly lengths: WindowLengths;

  constructor(private readonly options: RateLimitsOptions) {
    this.store = new CounterStore({ redis: options.redis, logger: options.logger });
    this.lengths = { ...DEFAULT_WINDOW_LENGTHS, ...options.windowLengths };
  }

  get disabled(): boolean {
    return this.options.config.rateLimitPolicies.disabled;
  }

  status(): RateLimitStatus {
    return { backend: this.store.backend, degraded: this.store.degraded, disabled: this.disabled };
  }

  /** The windows an API key is held to (defaults merged with its overrides), e.g. for display. */
  apiKeyWindows(overrides?: ApiKeyLimitOverrides): WindowPolicy[] {
    return apiKeyWindows(this.options.config.rateLimit, this.lengths, overrides);
  }

  /** One request authenticated with an API key: burst, minute and hour windows. */
  consumeApiKey(subject: ApiKeySubject): Promise<RateLimitDecision> {
    return this.consume('api_key', `key:${subject.env}`, this.apiKeyWindows(subject.overrides), subject.keyId);
  }

  /** The key's current standing without counting (dashboards, usage displays). */
  peekApiKey(subject: ApiKeySubject): Promise<RateLimitDecision> {
    return this.peek('api_key', `key:${subject.env}`, this.apiKeyWindows(subject.overrides), subject.keyId);
  }

  /** One token-endpoint request by an authenticated OAuth client. */
  consumeClient(clientId: string): Promise<RateLimitDecision> {
    return this.consumeSingle('client', clientId);
  }

  /** The client's standing without counting (checked before a token request is handled). */
  peekClient(clientId: string): Promise<RateLimitDecision> {
    return this.peek('client', 'client', [singleWindow('client', this.options.config.rateLimitPolicies, this.lengths)], clientId);
  }

  /** One login attempt from an address (counts successes and failures alike). */
  consumeLoginIp(ip: string): Promise<RateLimitDecision> {
    return this.consumeSingle('login_ip', ipBucket(ip));
  }

  /** Records one failed API-key check from an address; the decision says whether it may try again. */
  async consumeFailedKeyIp(ip: string): Promise<RateLimitDecision> {
    const window = singleWindow('failed_key_ip', this.options.config.rateLimitPolicies, this.lengths);
    if (this.disabled) return decide('failed_key_ip', [{ window, reading: null }], 'peek');
    const reading = await this.counter('failed_key_ip', window).hit(ipBucket(ip));
    // This failure was already answered; the question is whether the next attempt may be checked.
    return decide('failed_key_ip', [{ window, reading }], 'peek');
  }

  /** Peek: may this address have a key checked now, or has it failed too often this window? */
  checkFailedKeyIp(ip: string): Promise<RateLimitDecision> {
    return this.peek('failed_key_ip', 'failed_key_ip', [singleWindow('failed_key_ip', this.options.config.rateLimitPolicies, this.lengths)], ipBucket(ip));
  }

  async isIpBlockedForKeyFailures(ip: string): Promise<boolean> {
    return !(await this.checkFailedKeyIp(ip)).allowed;
  }

  private counter(namespace: string, window: WindowPolicy): WindowCounter {
    return this.store.counter(`${namespace}:${window.name}`, window.seconds);
  }

  private consumeSingle(limiter: 'client' | 'login_ip', subject: string): Promise<RateLimitDecision> {
    return this.consume(limiter, limiter, [singleWindow(limiter, this.options.config.rateLimitPolicies, this.lengths)], subject);
  }

  private async consume(limiter: LimiterName, namespace: string, windows: WindowPolicy[], subject: string): Promise<RateLimitDecision> {
    if (this.disabled) return decide(limiter, windows.map((window) => ({ window, reading: null })), 'peek');
    const counters = windows.map((window) => this.counter(namespace, window));
    const readings = await Promise.all(counters.map((counter) => counter.hit(subject)));
    const refused = readings.some((reading, i) => reading.consumed > windows[i]!.limit);
    const results: WindowReading[] = windows.map((window, i) => ({ window, reading: readings[i]! }));
    if (!refused) return decide(limiter, results, 'consumed');

    // Give the request back to the windows that would have let it through.
    const refunds: Array<Promise<void>> = [];
    const adjusted = results.map(({ window, reading }, i): WindowReading => {
      if (!reading || reading.consumed > window.limit) return { window, reading };
      refunds.push(counters[i]!.refund(subject));
      const back: CounterReading = { consumed: reading.consumed - 1, msBeforeReset: reading.msBeforeReset };
      return { window, reading: back };
    });
    await Promise.all(refunds);
    return decide(limiter, adjusted, 'consumed');
  }

  private async peek(limiter: LimiterName, namespace: string, windows: WindowPolicy[], subject: string): Promise<RateLimitDecision> {
    if (this.disabled) return decide(limiter, windows.map((window) => ({ window, reading: null })), 'peek');
    const readings = await Promise.all(windows.map((window) => this.counter(namespace, window).peek(subject)));
    return decide(limiter, windows.map((window, i) => ({ window, reading: readings[i] ?? null })), 'peek');
  }
}
