import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from './clock.js';

export interface BoundedCacheOptions {
  /** Entries kept at most; the least recently used goes first. 0 or less: the cache keeps nothing. */
  readonly maxEntries: number;
  /**
   * How long an entry may be used after it was set (ms): an entry set at `t` is a miss from
   * `t + ttlMs` on. Omitted: until it is evicted or deleted. 0 or less: the cache keeps nothing.
   */
  readonly ttlMs?: number;
  /** Where "now" comes from when a call does not pass it (default: the system clock). */
  readonly clock?: Clock;
}

interface Slot<V> {
  readonly value: V;
  /** Epoch ms from which the entry is a miss (Infinity without a TTL). */
  readonly expiresAt: number;
}

/**
 * The one bounded in-process cache (client rows, verified keys, key states, revocations, verified
 * signatures, resource-server policies…): lru-cache's `LRUCache` for the bound and the order, so
 * a read (`get`) or a write (`set`) makes an entry the most recently used and the least recently
 * used is evicted once `maxEntries` is reached. Every entry is bounded by `maxEntries`, whatever
 * the keys (anyone can send junk ones).
 *
 * Time is judged here, not by lru-cache's own `ttl`, against the project's wall clock (or a `now`
 * the caller already took, so one request judges everything at one instant): an entry set at `t`
 * is a miss from exactly `t + ttlMs` on (lru-cache's check is `>`, a millisecond later, treats an
 * entry set while its clock reads 0 as never stale, and arms a timer per `ttlResolution`).
 * Expired entries are dropped when read and otherwise wait for eviction (nothing runs in the
 * background); `size` counts them until then.
 *
 * Values may be anything, `undefined` included (`get` cannot tell a cached `undefined` from a
 * miss: wrap such values, e.g. `{ state }`).
 */
export class BoundedCache<K extends NonNullable<unknown>, V> {
  private readonly slots: LRUCache<K, Slot<V>> | undefined;
  private readonly ttlMs: number | undefined;
  private readonly clock: Clock;

  constructor(options: BoundedCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.clock = options.clock ?? systemClock;
    const keeps = options.maxEntries > 0 && (options.ttlMs === undefined || options.ttlMs > 0);
    this.slots = keeps ? new LRUCache<K, Slot<V>>({ max: Math.floor(options.maxEntries) }) : undefined;
  }

  /** Whether anything is kept at all (a bound or TTL of 0 turns the cache off). */
  get enabled(): boolean {
    return this.slots !== undefined;
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.slots?.size ?? 0;
  }

  /** The entry's value, made the most recently used; undefined when absent or expired (then dropped). */
  get(key: K, now?: number): V | undefined {
    if (this.slots === undefined) return undefined;
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (this.expired(slot, now)) {
      this.slots.delete(key);
      return undefined;
    }
    return slot.value;
  }

  /** Like `get`, without making the entry the most recently used nor dropping it when expired. */
  peek(key: K, now?: number): V | undefined {
    const slot = this.slots?.peek(key);
    if (slot === undefined || this.expired(slot, now)) return undefined;
    return slot.value;
  }

  /** Whether a live entry is there (does not change its recency). */
  has(key: K, now?: number): boolean {
    const slot = this.slots?.peek(key);
    return slot !== undefined && !this.expired(slot, now);
  }

  /** Sets the entry (expiring `ttlMs` after `now`), most recently used; evicts the least recently used beyond the bound. */
  set(key: K, value: V, now?: number): void {
    if (this.slots === undefined) return;
    const expiresAt = this.ttlMs === undefined ? Infinity : (now ?? this.clock.now()) + this.ttlMs;
    this.slots.set(key, { value, expiresAt });
  }

  delete(key: K): boolean {
    return this.slots?.delete(key) ?? false;
  }

  clear(): void {
    this.slots?.clear();
  }

  /** Live entries, most recently used first (recency unchanged). */
  *entries(now?: number): Generator<[K, V]> {
    if (this.slots === undefined) return;
    const at = this.ttlMs === undefined ? 0 : (now ?? this.clock.now());
    for (const [key, slot] of this.slots.entries()) {
      if (!this.expired(slot, at)) yield [key, slot.value];
    }
  }

  /** Drops every entry (expired ones included) for which `drop` says so; returns how many. A scan: for rare events. */
  deleteWhere(drop: (value: V, key: K) => boolean): number {
    if (this.slots === undefined) return 0;
    const doomed: K[] = [];
    for (const [key, slot] of this.slots.entries()) if (drop(slot.value, key)) doomed.push(key);
    for (const key of doomed) this.slots.delete(key);
    return doomed.length;
  }

  /** Without a TTL nothing expires, and the clock is not read (the hot reads of the verified-JWS cache). */
  private expired(slot: Slot<V>, now: number | undefined): boolean {
    return this.ttlMs !== undefined && slot.expiresAt <= (now ?? this.clock.now());
  }
}
