import { createHash } from 'node:crypto';
import { CircuitBreaker } from './circuit_breaker.js';
import { TtlCache } from './ttl_cache.js';
import { fetchJson, UpstreamError, type Fetch } from './upstream.js';

export interface IntrospectionOptions {
  /** The resource server's own Keyport client (client credentials; any confidential client may introspect). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default: `introspection_endpoint` from Keyport's metadata. */
  readonly endpoint?: string;
  /**
   * How long an answer is reused for the same token, in seconds (default 5; 0: ask every time).
   * This is how late a revocation can be seen on routes that introspect. Never past the token's `exp`.
   */
  readonly cacheSeconds?: number;
  /** Most tokens remembered at once (default 10 000; the oldest go first). */
  readonly maxCacheEntries?: number;
  /** Time limit of one introspection call (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Consecutive failed calls that open the circuit (default 5). */
  readonly failureThreshold?: number;
  /** How long an open circuit answers 503 without calling Keyport (default 30 s). */
  readonly cooldownSeconds?: number;
}

/** An RFC 7662 answer: `active` plus whatever Keyport said about the token. */
export type IntrospectionAnswer = Readonly<Record<string, unknown>> & { readonly active: boolean };

/**
 * RFC 7662 introspection at Keyport with the resource server's client credentials: answers cached
 * per token (by its SHA-256, so the cache holds no token) for a bounded time, concurrent requests
 * for one token share one call, and a circuit breaker stops calling a Keyport that keeps failing.
 */
export class Introspector {
  private readonly cache: TtlCache<IntrospectionAnswer>;
  private readonly inFlight = new Map<string, Promise<IntrospectionAnswer>>();
  readonly breaker: CircuitBreaker;
  private readonly authorization: string;
  /** Calls made to Keyport (for the tests and for metrics). */
  calls = 0;

  constructor(private readonly options: IntrospectionOptions, private readonly endpoint: () => Promise<string>, private readonly fetchImpl: Fetch) {
    this.cache = new TtlCache(options.maxCacheEntries ?? 10_000);
    this.breaker = new CircuitBreaker({ failureThreshold: options.failureThreshold ?? 5, cooldownMs: (options.cooldownSeconds ?? 30) * 1000 });
    // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined.
    this.authorization = `Basic ${Buffer.from(`${formEncode(options.clientId)}:${formEncode(options.clientSecret)}`).toString('base64')}`;
  }

  async introspect(token: string): Promise<IntrospectionAnswer> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(key);
    if (cached) return cached;
    let call = this.inFlight.get(key);
    if (!call) {
      call = this.breaker.run(() => this.call(token)).then((answer) => {
        this.cache.set(key, answer, this.cacheMs(answer));
        return answer;
      }).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, call);
    }
    return call;
  }

  private cacheMs(answer: IntrospectionAnswer): number {
    const bound = (this.options.cacheSeconds ?? 5) * 1000;
    if (!answer.active || typeof answer.exp !== 'number') return bound;
    return Math.min(bound, answer.exp * 1000 - Date.now());
  }

  private async call(token: string): Promise<IntrospectionAnswer> {
    const endpoint = await this.endpoint();
    this.calls += 1;
    const body = await fetchJson(this.fetchImpl, endpoint, {
      method: 'POST',
      headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    }, this.options.timeoutMs ?? 2000);
    if (typeof body.active !== 'boolean') throw new UpstreamError(`${endpoint}: the answer has no boolean "active"`);
    return body as IntrospectionAnswer;
  }
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
