import { createHash } from 'node:crypto';
import type { RedisClient } from '../lib/redis.js';
import type { Config } from '../config/config.js';
import type { CircuitBreaker } from '../lib/circuit_breaker.js';
import { type Clock, systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { decide, type CounterReading, type RateLimitDecision, type WindowReading } from './decision.js';
import {
  apiKeyWindows, DEFAULT_USER_CODE_ENTRIES_PER_IP, DEFAULT_WINDOW_LENGTHS, DEVICE_POLL_INTERVAL_SECONDS, loginFailureWindows, registrationWindow, singleWindow,
  type ApiKeyLimitOverrides, type KeyEnvironment, type LimiterName, type WindowLengths, type WindowPolicy,
} from './policies.js';
import { type CounterEntry, CounterStore, type StoreBackend, type WindowCounter } from './store.js';
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
  readonly redis?: RedisClient;
  /** Skips Redis while open (see CounterStore). */
  readonly breaker?: CircuitBreaker;
  /** Shorter windows for tests. */
  readonly windowLengths?: Partial<WindowLengths>;
  /**
   * "Now" for the reset times the decisions report (default: the system clock). The in-memory
   * counters (rate-limiter-flexible) read the global `Date` themselves, so a test that moves time
   * through a window fakes `Date` (test/support/time.ts), which the system clock reads too; Redis
   * counters end with Redis's own TTLs.
   */
  readonly clock?: Clock;
}

export interface RateLimitStatus {
  readonly backend: StoreBackend;
  /** Redis is configured but unreachable: limits are per instance until it returns. */
  readonly degraded: boolean;
  readonly disabled: boolean;
}

interface CountedWindow {
  readonly window: WindowPolicy;
  readonly counter: WindowCounter;
  /** Whom this window counts, when not the subject of the call (the `login` limiter counts two). */
  readonly subject?: string;
}

/** The account half of a login subject: a digest, so no email address is written to Redis. */
function emailDigest(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase().slice(0, 254)).digest('base64url').slice(0, 22);
}

/** Each window's counter and whom it counts: its own subject, or the call's. */
function entriesOf(windows: readonly CountedWindow[], subject: string): CounterEntry[] {
  return windows.map((counted) => ({ counter: counted.counter, subject: counted.subject ?? subject }));
}

/** RATE_LIMIT_DISABLED: the policy as it stands, with nothing counted. */
function untouched(limiter: LimiterName, windows: readonly CountedWindow[], nowMs: number): RateLimitDecision {
  return decide(limiter, windows.map(({ window }) => ({ window, reading: null })), 'peek', nowMs);
}

/**
 * The limits of docs/reference.md §5, as decisions (allowed or not, with what is left) that routes turn into
 * headers and 429s. Knows nothing of koa. Every method counts one request unless it says
 * "peek"; a request refused by one window is taken back from the others, so refusals do not
 * use up the longer windows.
 */
export class RateLimits {
  private readonly store: CounterStore;
  private readonly lengths: WindowLengths;
  private readonly clock: Clock;
  private readonly keyRejectionListeners: Array<(keyId: string) => void> = [];

  constructor(private readonly options: RateLimitsOptions) {
    this.store = new CounterStore({ redis: options.redis, breaker: options.breaker, logger: options.logger });
    this.lengths = { ...DEFAULT_WINDOW_LENGTHS, ...options.windowLengths };
    this.clock = options.clock ?? systemClock;
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
  async consumeApiKey(subject: ApiKeySubject): Promise<RateLimitDecision> {
    const decision = await this.consume('api_key', this.keyWindows(subject), subject.keyId);
    if (!decision.allowed) for (const listener of this.keyRejectionListeners) listener(subject.keyId);
    return decision;
  }

  /** Called with the key ID of every refused API-key request (per-key usage counts). */
  onApiKeyRejected(listener: (keyId: string) => void): void {
    this.keyRejectionListeners.push(listener);
  }

  /** The key's current standing without counting (dashboards, usage displays). */
  peekApiKey(subject: ApiKeySubject): Promise<RateLimitDecision> {
    return this.peek('api_key', this.keyWindows(subject), subject.keyId);
  }

  /** One token-endpoint request by an authenticated OAuth client. */
  consumeClient(clientId: string): Promise<RateLimitDecision> {
    return this.consume('client', this.singleWindow('client'), clientId);
  }

  /** The client's standing without counting (checked before a token request is handled). */
  peekClient(clientId: string): Promise<RateLimitDecision> {
    return this.peek('client', this.singleWindow('client'), clientId);
  }

  /** One login attempt from an address (counts successes and failures alike). */
  consumeLoginIp(ip: string): Promise<RateLimitDecision> {
    return this.consume('login_ip', this.singleWindow('login_ip'), ipBucket(ip));
  }

  /**
   * Books a failed password sign-in before the password is checked: one atomic increment per
   * window (address + email, and address), so parallel guesses cannot all pass a check made
   * before any of them was counted. Refused: do not check the password. Allowed: check it, and
   * on success call `forgivePasswordFailure`.
   */
  consumePasswordFailure(ip: string, email: string): Promise<RateLimitDecision> {
    return this.consume('login', this.loginFailureWindows(ip, email), ipBucket(ip));
  }

  /** The password was right: the booked failure is taken back and the account's count starts again. */
  async forgivePasswordFailure(ip: string, email: string): Promise<void> {
    if (this.disabled) return;
    const [account, address] = this.loginFailureWindows(ip, email);
    await Promise.all([account!.counter.clear(account!.subject!), address!.counter.refund(address!.subject!)]);
  }

  /** Records one failed API-key check from an address; the decision says whether it may try again. */
  async consumeFailedKeyIp(ip: string): Promise<RateLimitDecision> {
    const windows = this.singleWindow('failed_key_ip');
    if (this.disabled) return untouched('failed_key_ip', windows, this.clock.now());
    const reading = await windows[0]!.counter.hit(ipBucket(ip));
    // This failure was already answered; the question is whether the next attempt may be checked.
    return decide('failed_key_ip', [{ window: windows[0]!.window, reading }], 'peek', this.clock.now());
  }

  /** Peek: may this address have a key checked now, or has it failed too often this window? */
  checkFailedKeyIp(ip: string): Promise<RateLimitDecision> {
    return this.peek('failed_key_ip', this.singleWindow('failed_key_ip'), ipBucket(ip));
  }

  /** One introspection request from an address by a caller that did not authenticate (a public client). */
  consumePublicIntrospectionIp(ip: string): Promise<RateLimitDecision> {
    return this.consume('introspection_ip', this.singleWindow('introspection_ip'), ipBucket(ip));
  }

  /** One device-flow user-code submission from an address (the verification page; RFC 8628 §5.1). */
  consumeUserCodeEntry(ip: string): Promise<RateLimitDecision> {
    const window: WindowPolicy = { name: 'user_code_ip', seconds: this.lengths.single, limit: this.options.config.rateLimitPolicies.userCodeEntriesPerIpPerMinute ?? DEFAULT_USER_CODE_ENTRIES_PER_IP };
    return this.consume('user_code_ip', [{ window, counter: this.store.counter('user_code_ip', window.seconds) }], ipBucket(ip));
  }

  /** One poll of a pending device code (its keyed hash, never the code): one per interval (RFC 8628 §3.5). */
  consumeDevicePoll(deviceCodeHash: string): Promise<RateLimitDecision> {
    const window: WindowPolicy = { name: 'device_poll', seconds: DEVICE_POLL_INTERVAL_SECONDS, limit: 1 };
    return this.consume('device_poll', [{ window, counter: this.store.counter('device_poll', window.seconds) }], deviceCodeHash);
  }

  /** One dynamic client registration request from an address, `perMinute` allowed (src/ratelimit/registration.ts). */
  consumeRegistrationIp(ip: string, perMinute: number): Promise<RateLimitDecision> {
    const window = registrationWindow(perMinute, this.lengths);
    return this.consume('registration_ip', [{ window, counter: this.store.counter('registration_ip', window.seconds) }], ipBucket(ip));
  }

  async isIpBlockedForKeyFailures(ip: string): Promise<boolean> {
    return !(await this.checkFailedKeyIp(ip)).allowed;
  }

  /** Counted under `rl:key:<env>:<window>:<key id>`: live and test keys never share a counter. */
  private keyWindows(subject: ApiKeySubject): CountedWindow[] {
    return this.apiKeyWindows(subject.overrides).map((window) => ({ window, counter: this.store.counter(`key:${subject.env}:${window.name}`, window.seconds) }));
  }

  /** Counted under `rl:login_account:<address>|<email digest>` and `rl:login_address:<address>`. */
  private loginFailureWindows(ip: string, email: string): CountedWindow[] {
    const { account, address } = loginFailureWindows(this.lengths);
    const bucket = ipBucket(ip);
    return [
      { window: account, counter: this.store.counter(account.name, account.seconds), subject: `${bucket}|${emailDigest(email)}` },
      { window: address, counter: this.store.counter(address.name, address.seconds), subject: bucket },
    ];
  }

  /** Counted under `rl:<limiter>:<subject>`. */
  private singleWindow(limiter: Exclude<LimiterName, 'api_key' | 'login' | 'user_code_ip' | 'device_poll' | 'registration_ip'>): CountedWindow[] {
    const window = singleWindow(limiter, this.options.config.rateLimitPolicies, this.lengths);
    return [{ window, counter: this.store.counter(limiter, window.seconds) }];
  }

  private async consume(limiter: LimiterName, windows: CountedWindow[], subject: string): Promise<RateLimitDecision> {
    if (this.disabled) return untouched(limiter, windows, this.clock.now());
    const readings = await this.store.hitAll(entriesOf(windows, subject));
    const results: WindowReading[] = windows.map(({ window }, i) => ({ window, reading: readings[i]! }));
    if (!results.some(({ window, reading }) => reading!.consumed > window.limit)) return decide(limiter, results, 'consumed', this.clock.now());

    // Give the request back to the windows that would have let it through.
    const refunds: Array<Promise<void>> = [];
    const adjusted = results.map(({ window, reading }, i): WindowReading => {
      if (!reading || reading.consumed > window.limit) return { window, reading };
      refunds.push(windows[i]!.counter.refund(windows[i]!.subject ?? subject));
      const back: CounterReading = { consumed: reading.consumed - 1, msBeforeReset: reading.msBeforeReset };
      return { window, reading: back };
    });
    await Promise.all(refunds);
    return decide(limiter, adjusted, 'consumed', this.clock.now());
  }

  private async peek(limiter: LimiterName, windows: CountedWindow[], subject: string): Promise<RateLimitDecision> {
    if (this.disabled) return untouched(limiter, windows, this.clock.now());
    const readings = await this.store.peekAll(entriesOf(windows, subject));
    return decide(limiter, windows.map(({ window }, i) => ({ window, reading: readings[i] ?? null })), 'peek', this.clock.now());
  }
}
