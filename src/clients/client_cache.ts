import { In, type Repository } from 'typeorm';
import type { OAuthClient } from '../db/entities/oauth_client.js';
import type { EventBus } from '../lib/bus.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { FreshnessGate } from '../lib/freshness.js';
import type { Logger } from '../lib/logger.js';
import { BoundedCache } from '../lib/lru.js';
import { BUS_RECONNECTED_CHANNEL } from '../lib/redis_bus.js';

/** Bus channel: the message is a client id whose row changed (secret rotated, deleted). */
export const CLIENTS_CHANNEL = 'keyport.clients';
/** How stale the cache may be about a change made by another process without a shared bus. */
export const CLIENT_SWEEP_INTERVAL_MS = 250;

export interface ClientCacheOptions {
  /** How long an entry is kept at most (the sweep, not this, bounds staleness). */
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Without a change counter: how stale entries may be about changes made elsewhere (ms). */
  readonly sweepIntervalMs?: number;
  /** The database's change counter, when it has one (SQLite; see Database.changeCounter). */
  readonly changeCounter?: () => number;
  /** "Now" for entry lifetimes and the sweep's interval; default the system clock. */
  readonly clock?: Clock;
}

interface Slot {
  readonly client: OAuthClient;
  /** The whole row as read: any difference in a later read means the client changed. */
  readonly fingerprint: string;
}

function fingerprint(client: OAuthClient): string {
  return JSON.stringify(client);
}

/**
 * Client rows for the engine's client authentication. oidc-provider keeps clients it was
 * configured with in memory but asks the adapter for every other client on every request, so
 * each token and introspection request used to read `oauth_clients`. Entries are dropped:
 *
 * - at once on this instance, and through the bus on the others (Redis: milliseconds), when a
 *   client's secret is rotated or the client is deleted (`changed()`);
 * - otherwise, before an entry is trusted, the sweep re-reads the cached rows (one primary-key
 *   read of the few cached clients) and drops every entry whose row differs or is gone: on SQLite
 *   whenever the database's change counter says another connection committed (exact), on MySQL
 *   at most every 250 ms while something is cached. That covers a `keyport client:delete` from
 *   the CLI, an instance without Redis, and any later way of editing clients, without a
 *   per-request read. (A deleted client's tokens minted in that window are revoked anyway: see
 *   OidcServices.)
 *
 * Unknown client ids are not cached (anyone can send them), so a new client works at once.
 */
export class ClientCache {
  /** Bounded (least recently used out), each entry kept at most `ttlMs`. */
  private readonly slots: BoundedCache<string, Slot>;
  /** Bumped by every eviction, so a read that raced a change does not cache the old row. */
  private generation = 0;
  private readonly sweep: FreshnessGate;
  private readonly clock: Clock;

  constructor(private readonly rows: Repository<OAuthClient>, private readonly bus: EventBus, private readonly logger: Logger, options: ClientCacheOptions) {
    this.clock = options.clock ?? systemClock;
    this.slots = new BoundedCache({ maxEntries: options.maxEntries, ttlMs: options.ttlMs, clock: this.clock });
    this.sweep = new FreshnessGate(options.sweepIntervalMs ?? CLIENT_SWEEP_INTERVAL_MS, () => this.lookForChanges(), options.changeCounter, { clock: this.clock });
  }

  get size(): number {
    return this.slots.size;
  }

  /** Listens for changes made by other instances; returns the function that stops listening. */
  start(): () => void {
    const stops = [
      this.bus.subscribe(CLIENTS_CHANNEL, (id) => this.evict(id)),
      // Messages published while Redis was away are lost: look at the table before trusting entries.
      this.bus.subscribe(BUS_RECONNECTED_CHANNEL, () => this.sweep.expire()),
    ];
    return () => { for (const stop of stops) stop(); };
  }

  async get(id: string): Promise<OAuthClient | undefined> {
    const sweeping = this.sweep.ensureFresh();
    if (sweeping !== undefined) await sweeping;
    const now = this.clock.now();
    const slot = this.slots.get(id, now);
    if (slot) return slot.client;
    const generation = this.generation;
    const client = (await this.rows.findOneBy({ id })) ?? undefined;
    if (client && generation === this.generation) this.slots.set(client.id, { client, fingerprint: fingerprint(client) }, now);
    return client;
  }

  /** A client's row changed (or is gone): drop it here and on every instance the bus reaches. */
  async changed(id: string): Promise<void> {
    this.evict(id);
    await this.bus.publish(CLIENTS_CHANNEL, id);
  }

  evict(id: string): void {
    this.generation += 1;
    this.slots.delete(id);
  }

  clear(): void {
    this.generation += 1;
    this.slots.clear();
  }

  private async lookForChanges(): Promise<void> {
    if (this.slots.size === 0) return;
    try {
      const cached = [...this.slots.entries()];
      const rows = await this.rows.findBy({ id: In(cached.map(([id]) => id)) });
      const current = new Map(rows.map((row) => [row.id, fingerprint(row)]));
      for (const [id, slot] of cached) {
        if (current.get(id) !== slot.fingerprint && this.slots.peek(id) === slot) this.evict(id);
      }
    } catch (err) {
      // Unknown what changed: read clients afresh (and fail like any other read while the database is down).
      this.clear();
      this.logger.warn('client cache sweep failed', { err });
    }
  }
}
