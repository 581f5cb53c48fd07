import { BoundedCache } from '../lib/lru.js';
import { apiKeySubject } from '../ratelimit/api_key_subject.js';
import type { ApiKeySubject } from '../ratelimit/service.js';
import { keyStatus, type KeyStatus, type RateLimitOverride, type VerifyFailureReason } from '../keys/index.js';
import { IpAllowList } from '../keys/ip_allow_list.js';
import type { AccessType, KeyEnv } from '../keys/scopes.js';

/** What a token check needs to know about the key a token was exchanged from. */
export interface KeyState {
  readonly keyId: string;
  readonly agentId: string;
  readonly agentActive: boolean;
  readonly status: 'active' | 'revoked';
  readonly expiresAt: Date | null;
  readonly graceUntil: Date | null;
  readonly env: KeyEnv;
  readonly accessType: AccessType;
  /** The key's IP allow list (null: anywhere), as stored. */
  readonly ipAllowList: readonly string[] | null;
  /** The key's own rate limits (null: the defaults). */
  readonly rateLimit: RateLimitOverride | null;
}

/**
 * How long a key's state is trusted before it is read again. Revocations do not wait for it (they
 * reach tokens through the revocation registry at once, and evict here through the bus); what it
 * delays is only a rotation's new grace deadline made by another process without Redis.
 */
export const KEY_STATE_TTL_MS = 5000;
const MAX_ENTRIES = 10_000;

/** The effective status of the key behind a token, judged against the clock on every call. */
export function keyStateStatus(state: KeyState, now = Date.now()): KeyStatus {
  if (!state.agentActive) return 'revoked';
  return keyStatus(state, now);
}

/**
 * Whether the key behind a session may be used now from `ip`, judged as the key verifier judges a
 * presented key (status and expiry first, then the allow list): undefined when it may, otherwise
 * the verifier's refusal reason. Every refresh of an API-key session asks (docs/reference.md §3: a refresh is a
 * use of the key).
 */
export function keyUseRefusal(state: KeyState, ip: string | undefined, now = Date.now()): Exclude<VerifyFailureReason, 'missing' | 'invalid'> | undefined {
  const status = keyStateStatus(state, now);
  if (status !== 'active') return status;
  const allowList = IpAllowList.compile(state.ipAllowList);
  if (allowList && !allowList.allows(ip)) return 'ip_not_allowed';
  return undefined;
}

/** The rate-limit subject of the key behind a session (what a refresh counts against). */
export function keyStateSubject(state: KeyState): ApiKeySubject {
  return apiKeySubject({ id: state.keyId, env: state.env, rateLimit: state.rateLimit });
}

/** Where key states are read from (implemented in src/db/stores/key_states.ts). */
export interface KeyStateRows {
  /**
   * The key's state as the database has it (undefined: no such key). Reads asked within a tick, or
   * while one is in flight, share one query; a read never joins a query sent before it was asked.
   */
  read(keyId: string): Promise<KeyState | undefined>;
}

/**
 * A small, bounded, short-lived cache of key and agent state by key id, for the checks that run
 * on every introspection and refresh of an exchanged token (one indexed read per key per 5 s), and
 * the fresh read the mint makes before it signs (`current`).
 *
 * Reads go out batched, as PayloadStore's and RevocationRegistry's do: those asked within a tick,
 * or while a read is in flight, share one `id IN (…)` query (KeyStateRows, the agent joined in),
 * so a burst of new sessions costs one round trip per batch, not one per login.
 *
 * On SQLite the database's change counter (Database.changeCounter) says exactly when another
 * connection (the CLI, another instance on the file) has committed: until it moves, what `current`
 * last read is still what the database says, and this process's own key changes evict. So there a
 * fresh read costs nothing in the steady state; on MySQL, which has no such signal, it is a read.
 */
export class KeyStates {
  /** States read lately (undefined: no such key), each trusted for KEY_STATE_TTL_MS. */
  private readonly entries = new BoundedCache<string, { state: KeyState | undefined }>({ maxEntries: MAX_ENTRIES, ttlMs: KEY_STATE_TTL_MS });
  /** SQLite: states `current` read, with the change counter as it stood before the read. */
  private readonly confirmed = new BoundedCache<string, { state: KeyState | undefined; version: number }>({ maxEntries: MAX_ENTRIES });
  /** Bumped by every eviction, so a read that raced a revocation does not cache the state before it. */
  private generation = 0;

  constructor(private readonly rows: KeyStateRows, private readonly changeCounter?: () => number) {}

  /** The key's state, from the cache when it was read in the last 5 s. */
  async get(keyId: string): Promise<KeyState | undefined> {
    const cached = this.entries.get(keyId);
    if (cached) return cached.state;
    return this.current(keyId);
  }

  /**
   * The key's state as the database has it now (a read that starts after this call; the cache is
   * refreshed with it). For the moment a token is about to be signed: nothing cached may stand in.
   */
  async current(keyId: string): Promise<KeyState | undefined> {
    if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 40) return undefined;
    const version = this.changeCounter?.();
    if (version !== undefined) {
      const known = this.confirmed.get(keyId);
      if (known && known.version === version) return known.state;
    }
    const generation = this.generation;
    const state = await this.rows.read(keyId);
    if (generation === this.generation) {
      this.remember(keyId, state, Date.now());
      if (version !== undefined) this.confirmed.set(keyId, { state, version });
    }
    return state;
  }

  /** Seeds the cache with what a key verification just read (saves the read on the next check). */
  seed(state: KeyState): void {
    this.remember(state.keyId, state, Date.now());
  }

  evict(filter: { keyIds?: readonly string[]; agentId?: string }): void {
    this.generation += 1;
    const keyIds = new Set(filter.keyIds ?? []);
    const drop = (entry: { state: KeyState | undefined }, id: string): boolean => keyIds.has(id) || (filter.agentId !== undefined && entry.state?.agentId === filter.agentId);
    this.entries.deleteWhere(drop);
    this.confirmed.deleteWhere(drop);
  }

  private remember(keyId: string, state: KeyState | undefined, now: number): void {
    this.entries.set(keyId, { state }, now);
  }
}
