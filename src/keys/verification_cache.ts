import type { IpAllowList } from './ip_allow_list.js';
import type { AgentRecord, ApiKeyRecord } from './records.js';

/** What a verification needs about one key, loaded by one indexed read and reused until it expires. */
export interface CachedKey {
  readonly key: ApiKeyRecord;
  readonly agent: AgentRecord;
  /** Parsed once here, not per request. */
  readonly allowList: IpAllowList | null;
}

interface Slot {
  readonly value: CachedKey;
  readonly expiresAt: number;
}

/**
 * A short-lived, bounded map from key hash (never the key itself) to the verification facts of
 * that key. Status is re-judged against the clock on every use, so a cached entry never extends
 * a key's expiry or grace period; revocation evicts entries explicitly.
 */
export class VerificationCache {
  private readonly slots = new Map<string, Slot>();
  /** Bumped by every eviction, so a load that raced a revocation does not cache a stale row. */
  private evictions = 0;

  constructor(private readonly ttlMs: number, private readonly maxEntries: number) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.slots.size;
  }

  get generation(): number {
    return this.evictions;
  }

  get(hash: string, now: number): CachedKey | undefined {
    const slot = this.slots.get(hash);
    if (!slot) return undefined;
    if (slot.expiresAt <= now) {
      this.slots.delete(hash);
      return undefined;
    }
    return slot.value;
  }

  set(hash: string, value: CachedKey, now: number): void {
    if (!this.enabled) return;
    this.slots.delete(hash);
    // Oldest insertion goes first: a Map iterates in insertion order, so this is O(1) and bounded.
    while (this.slots.size >= this.maxEntries) {
      const oldest = this.slots.keys().next().value;
      if (oldest === undefined) break;
      this.slots.delete(oldest);
    }
    this.slots.set(hash, { value, expiresAt: now + this.ttlMs });
  }

  /** Drops every entry of these keys and/or of this agent. Revocations are rare; a scan is fine. */
  evict(filter: { keyIds?: readonly string[]; agentId?: string }): number {
    this.evictions += 1;
    const keyIds = new Set(filter.keyIds ?? []);
    let dropped = 0;
    for (const [hash, slot] of this.slots) {
      if (keyIds.has(slot.value.key.id) || (filter.agentId !== undefined && slot.value.agent.id === filter.agentId)) {
        this.slots.delete(hash);
        dropped += 1;
      }
    }
    return dropped;
  }

  clear(): void {
    this.evictions += 1;
    this.slots.clear();
  }
}
