import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { fetchJson, UpstreamError, type Fetch } from './upstream.js';

export interface KeySetOptions {
  /** Where the JWKS is (resolved lazily: discovery may not have run yet). */
  readonly uri: () => Promise<string>;
  readonly fetch: Fetch;
  readonly timeoutMs: number;
  /** Reload a set older than this before using it. */
  readonly maxAgeMs: number;
  /** At most one reload per this interval is caused by tokens with an unknown `kid`. */
  readonly cooldownMs: number;
  readonly now?: () => number;
  /** Told when a reload fails while an older set is still in use. */
  readonly onError?: (error: Error) => void;
}

/**
 * Keyport's signing keys, fetched from its JWKS and kept in memory (like jose's
 * createRemoteJWKSet, with one difference that matters after a rotation): a token whose `kid` is
 * not in the set makes the set reload at once, unless an unknown `kid` already caused a reload
 * within the cool-down, so a flood of tokens with made-up kids costs Keyport at most one JWKS
 * request per cool-down. Scheduled reloads (`maxAgeMs`) do not start the cool-down, so the first
 * token signed by a freshly rotated key is accepted on its first request. Concurrent requests
 * share one reload. A set past `maxAgeMs` is refreshed in the background while the old one stays
 * in use, also when the refresh fails.
 */
export class RemoteKeySet {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private loadedAt = 0;
  private unknownKidReloadAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  private readonly now: () => number;
  /** How many times the set was fetched (for the tests and for metrics). */
  fetches = 0;

  constructor(private readonly options: KeySetOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The key-lookup function for jose's jwtVerify. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    await this.ensureLoaded();
    try {
      return await this.keys!(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (this.loading !== undefined) await this.loading;
      else if (this.now() - this.unknownKidReloadAt >= this.options.cooldownMs) {
        this.unknownKidReloadAt = this.now();
        await this.reload();
      } else {
        throw error;
      }
      return this.keys!(header, token);
    }
  };

  private async ensureLoaded(): Promise<void> {
    if (!this.keys) return this.reload();
    if (this.loading || this.now() - this.loadedAt < this.options.maxAgeMs) return undefined;
    // Stale: refresh in the background and verify with the keys we have meanwhile. If the refresh
    // fails, try again after a cool-down rather than on every request.
    this.reload().catch((error: Error) => {
      this.loadedAt = this.now() - this.options.maxAgeMs + this.options.cooldownMs;
      this.options.onError?.(error);
    });
    return undefined;
  }

  private reload(): Promise<void> {
    this.loading ??= this.fetchSet().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  private async fetchSet(): Promise<void> {
    const uri = await this.options.uri();
    this.fetches += 1;
    const body = await fetchJson(this.options.fetch, uri, { headers: { accept: 'application/jwk-set+json, application/json' } }, this.options.timeoutMs);
    if (!Array.isArray(body.keys)) throw new UpstreamError(`${uri}: not a JWK set`);
    this.keys = createLocalJWKSet(body as unknown as JSONWebKeySet);
    this.loadedAt = this.now();
  }
}
