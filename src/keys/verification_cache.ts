import { BoundedCache } from '../lib/lru.js';
import type { IpAllowList } from './ip_allow_list.js';
import type { AgentRecord, ApiKeyRecord } from './records.js';

/** What a verification needs about one key, loaded by one indexed read and reused until it expires. */
export interface CachedKey {
  readonly key: ApiKeyRecord;
  readonly agent: AgentRecord;
  /** Parsed once here, not per request. */
  readonly allowList: IpAllowList | null;
}

/**
 * A short-lived, bounded map from key hash (never the key itself) to the verification facts of
 * that key. Status is re-judged against the clock on every use, so a cached entry never extends
 * a key's expiry or grace period; revocation evicts entries explicitly.
 */
export class VerificationCache {
  private readonly slots: BoundedCache<string, CachedKey>;
  /** Bumped by every eviction, so a load that raced a revocation does not cache a stale row. */
  private evictions = 0;

  constructor(ttlMs: number, maxEntries: number) {
    this.slots = new BoundedCache({ ttlMs, maxEntries });
  }

  get enabled(): boolean {
    return this.slots.enabled;
  }

  get size(): number {
    return this.slots.size;
  }

  get generation(): number {
    return this.evictions;
  }

  get(hash: string, now: number): CachedKey | undefined {
    return this.slots.get(hash, now);
  }

  set(hash: string, value: CachedKey, now: number): void {
    this.slots.set(hash, value, now);
  }

  /** Drops every entry of these keys and/or of this agent. Revocations are rare; a scan is fine. */
  evict(filter: { keyIds?: readonly string[]; agentId?: string }): number {
    this.evictions += 1;
    const keyIds = new Set(filter.keyIds ?? []);
    return this.slots.deleteWhere((value) => keyIds.has(value.key.id) || (filter.agentId !== undefined && value.agent.id === filter.agentId));
  }

  clear(): void {
    this.evictions += 1;
    this.slots.clear();
  }
}
