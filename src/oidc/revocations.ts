import type { EventBus } from '../lib/bus.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { FreshnessGate } from '../lib/freshness.js';
import type { Logger } from '../lib/logger.js';
import { BoundedCache } from '../lib/lru.js';
import { BUS_RECONNECTED_CHANNEL } from '../lib/redis_bus.js';

/**
 * What a revocation applies to. Kinds in use: `jti` (one token), `grant` (a token family),
 * `client` (a deleted client). Other features add their own (`session`, `api_key`, …).
 */
export interface RevocationKey {
  readonly kind: string;
  readonly value: string;
}

/** A row of `token_revocations`. */
export interface RevocationRow {
  readonly kind: string;
  readonly value: string;
  readonly revokedAt: Date;
  readonly expiresAt: Date;
}

/** The `token_revocations` table as the registry needs it (implemented in src/db/stores/token_revocations.ts). */
export interface RevocationRows {
  /** Inserts the row or moves an existing one (same kind and value) to these instants. */
  upsert(row: RevocationRow): Promise<void>;
  /**
   * The rows for these values (of any kind; a superset is fine). Concurrent reads share queries:
   * those asked within a tick go out together, and while a query is in flight the reads asked
   * meanwhile wait for it to return and then go out together as the next one. A read never joins a
   * query already sent, so it sees every revocation committed before it was asked.
   */
  findByValues(values: readonly string[]): Promise<readonly RevocationRow[]>;
  /** Rows revoked at or after `since` (the sweep). */
  revokedSince(since: Date): Promise<readonly RevocationRow[]>;
  deleteExpired(now: Date): Promise<number>;
}

interface CachedRevocation {
  /** Epoch seconds; tokens with iat at or before it are revoked. */
  revokedAt: number;
  /** Epoch ms after which the entry is useless. */
  expiresAt: number;
}

export interface RevocationRegistryOptions {
  /** How long a "not revoked" answer may be kept (ms); 0 turns the negative cache off. */
  readonly negativeCacheMs: number;
  /** Whether the bus reaches every instance (Redis). */
  readonly sharedBus: boolean;
  /** The database's change counter, when it has one (SQLite; see Database.changeCounter). */
  readonly changeCounter?: () => number;
  /** Without a change counter: how stale "not revoked" answers may be about other processes (ms). */
  readonly sweepIntervalMs?: number;
  readonly clock?: Clock;
}

const CHANNEL = 'keyport.revocations';
const MAX_CACHED = 10_000;
const MAX_VALUE_LENGTH = 191;
/** Revocations made elsewhere are learnt within this (the CLI, an instance without Redis). */
export const REVOCATION_SWEEP_INTERVAL_MS = 250;
/** The sweep looks back this far beyond its last run: commit delays and clock differences between hosts. */
const SWEEP_LOOKBACK_MS = 10_000;

function cacheKey(key: RevocationKey): string {
  return `${key.kind}\u0000${key.value}`;
}

/**
 * The revocation registry for tokens the engine does not store (JWT access tokens, and anything
 * other features issue). A check is one indexed read of `token_revocations` for all of a token's
 * keys at once, and concurrent checks share it: the reads queued until the current tick ends go
 * out as one `value IN (…)` query. Known revocations are cached in-process, and every instance
 * learns of a new one through the event bus.
 *
 * "Not revoked" answers (most checks: every introspection of a live token asks about its jti, its
 * client, its grant…) are cached too, for `negativeCacheMs`, wherever something says cheaply when
 * they may have gone stale. A revocation made here replaces the entry at once; one made elsewhere:
 *
 * - SQLite: the database's change counter moves whenever another connection commits (the CLI,
 *   another instance on the file); the next check then has the sweep read what was revoked since
 *   its last look before answering. Exact: a revocation holds everywhere at once.
 * - MySQL with REDIS_URL: the bus carries it to every instance within milliseconds; the sweep,
 *   every 250 ms while answers are cached, covers what the bus cannot (a CLI run without
 *   REDIS_URL, messages lost while Redis was away).
 * - MySQL without a shared bus: nothing cheap can tell this instance about another's revocation,
 *   so nothing negative is cached and every check reads the table (batched as above), keeping
 *   revocation immediate on every instance. A marker such as MAX(revokedAt) would cost the same
 *   indexed read, and `revokedAt` has whole seconds on MySQL, so it would miss a second
 *   revocation within the same second.
 */
export class RevocationRegistry {
  /** Known revocations (each carries its own `expiresAt`: when no token it matches can be alive). */
  private readonly revoked = new BoundedCache<string, CachedRevocation>({ maxEntries: MAX_CACHED });
  /** "Not revoked" answers, each trusted for `negativeCacheMs` after the check that read it (given a fresh sweep). */
  private readonly clear: BoundedCache<string, true>;
  /** Bumped whenever a revocation is learnt, so a read that raced it does not cache a stale "not revoked". */
  private generation = 0;
  /** Revocations written before this instant (epoch ms) have been seen by a sweep, or by any read since. */
  private sweptUntil: number;
  private readonly sweep: FreshnessGate;
  private readonly unsubscribes: Array<() => void> = [];
  private readonly clock: Clock;

  constructor(
    private readonly rows: RevocationRows,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: RevocationRegistryOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.sweptUntil = this.clock.now();
    this.clear = new BoundedCache({ maxEntries: MAX_CACHED, ttlMs: options.negativeCacheMs });
    this.sweep = new FreshnessGate(options.sweepIntervalMs ?? REVOCATION_SWEEP_INTERVAL_MS, (startedAt) => this.lookForNewRevocations(startedAt), options.changeCounter);
  }

  /** Listens for revocations made by other instances (and the CLI, when the bus is shared). */
  start(): void {
    if (this.unsubscribes.length) return;
    this.unsubscribes.push(this.bus.subscribe(CHANNEL, (message) => {
      try {
        const { kind, value, revokedAt, expiresAt } = JSON.parse(message) as { kind: string; value: string; revokedAt: number; expiresAt: number };
        this.remember({ kind, value }, revokedAt, expiresAt);
      } catch (err) {
        this.logger.warn('ignored a malformed revocation message', { err });
      }
    }));
    // Messages published while Redis was away are lost: look at the table before trusting the cache.
    this.unsubscribes.push(this.bus.subscribe(BUS_RECONNECTED_CHANNEL, () => this.sweep.expire()));
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }

  /**
   * Records that tokens matching `key` and issued up to now (or `coverIssuedUntil`) are revoked
   * until `expiresAt` (when none of them can be alive any more). Idempotent; a later call moves
   * the instant forward.
   */
  async revoke(key: RevocationKey, expiresAt: Date, options: { coverIssuedUntil?: Date } = {}): Promise<void> {
    if (key.value.length > MAX_VALUE_LENGTH) throw new Error('revocation value too long');
    // `coverIssuedUntil`: tokens issued a little after now count as revoked too (a deleted
    // client's tokens minted by an instance whose client cache has not caught up yet).
    const now = new Date(this.clock.now());
    const revokedAt = options.coverIssuedUntil && options.coverIssuedUntil > now ? options.coverIssuedUntil : now;
    await this.rows.upsert({ kind: key.kind, value: key.value, revokedAt, expiresAt });
    const revokedAtSeconds = Math.ceil(revokedAt.getTime() / 1000);
    this.remember(key, revokedAtSeconds, expiresAt.getTime());
    await this.bus.publish(CHANNEL, JSON.stringify({ kind: key.kind, value: key.value, revokedAt: revokedAtSeconds, expiresAt: expiresAt.getTime() }));
  }

  /** True when any key was revoked at or after `issuedAt` (epoch seconds). */
  async isRevoked(keys: readonly RevocationKey[], issuedAt: number): Promise<boolean> {
    const caching = this.cachesNegatives;
    let now = this.clock.now();
    const sweeping = caching ? this.sweep.ensureFresh(now) : undefined;
    if (sweeping !== undefined) {
      await sweeping;
      now = this.clock.now();
    }
    const unknown: RevocationKey[] = [];
    for (const key of keys) {
      const id = cacheKey(key);
      const cached = this.revoked.get(id);
      if (cached && cached.expiresAt > now && cached.revokedAt >= issuedAt) return true;
      if (caching && this.clear.get(id, now)) continue;
      unknown.push(key);
    }
    if (unknown.length === 0) return false;

    const generation = this.generation;
    const wanted = new Set(unknown.map(cacheKey));
    const found = await this.rows.findByValues([...new Set(unknown.map((key) => key.value))]);
    let revoked = false;
    const hit = new Set<string>();
    for (const row of found) {
      const key = { kind: row.kind, value: row.value };
      const id = cacheKey(key);
      if (!wanted.has(id)) continue;
      hit.add(id);
      const revokedAt = Math.ceil(row.revokedAt.getTime() / 1000);
      const expiresAt = row.expiresAt.getTime();
      this.remember(key, revokedAt, expiresAt);
      if (expiresAt > now && revokedAt >= issuedAt) revoked = true;
    }
    // Cache the "not revoked" answers unless a revocation was learnt while reading (it may be one
    // of these keys, committed just after the read). One committed elsewhere and missed by the read
    // moves the change counter, or is written after the last sweep began, so the next sweep's
    // look-back finds it and clears them.
    if (caching && generation === this.generation) {
      for (const id of wanted) {
        if (!hit.has(id)) this.clear.set(id, true, now);
      }
    }
    return revoked;
  }

  /** Whether "not revoked" answers are cached (see the class comment). */
  get cachesNegatives(): boolean {
    return this.options.negativeCacheMs > 0 && (this.options.sharedBus || this.options.changeCounter !== undefined);
  }

  /** Removes rows no token can match any more; returns how many. */
  async deleteExpired(now = new Date(this.clock.now())): Promise<number> {
    const deleted = await this.rows.deleteExpired(now);
    this.revoked.deleteWhere((entry) => entry.expiresAt <= now.getTime());
    return deleted;
  }

  /**
   * The sweep: revocations written since the last look (minus a look-back), from any process.
   * Nothing cached "not revoked" → nothing to correct, and whatever is read from now on is fresh.
   */
  private async lookForNewRevocations(startedAt: number): Promise<void> {
    if (this.clear.size === 0 || !this.cachesNegatives) {
      this.sweptUntil = startedAt;
      return;
    }
    try {
      const rows = await this.rows.revokedSince(new Date(this.sweptUntil - SWEEP_LOOKBACK_MS));
      for (const row of rows) this.remember({ kind: row.kind, value: row.value }, Math.ceil(row.revokedAt.getTime() / 1000), row.expiresAt.getTime());
      this.sweptUntil = startedAt;
    } catch (err) {
      // Unknown what changed: stop trusting "not revoked" answers (checks read the table, and
      // fail like any other database read while it is down).
      this.clear.clear();
      this.logger.warn('revocation sweep failed', { err });
    }
  }

  private remember(key: RevocationKey, revokedAt: number, expiresAt: number): void {
    const id = cacheKey(key);
    this.clear.delete(id);
    const previous = this.revoked.peek(id);
    if (previous && previous.revokedAt >= revokedAt) return;
    this.generation += 1;
    this.revoked.set(id, { revokedAt, expiresAt });
  }
}
