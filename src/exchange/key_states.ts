import type { DataSource, Repository } from 'typeorm';
import { ApiKey } from '../db/entities/api_key.js';
import { keyStatus, type KeyStatus, type RateLimitOverride, type VerifyFailureReason } from '../keys/index.js';
import { IpAllowList } from '../keys/ip_allow_list.js';
import { toApiKeyRecord } from '../keys/records.js';
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
 * the verifier's refusal reason. Every refresh of an API-key session asks (SPEC §3: a refresh is a
 * use of the key).
 */
export function keyUseRefusal(state: KeyState, ip: string | undefined, now = Date.now()): Exclude<VerifyFailureReason, 'missing' | 'invalid'> | undefined {
  const status = keyStateStatus(state, now);
  if (status !== 'active') return status;
  const allowList = IpAllowList.compile(state.ipAllowList);
  if (allowList && !allowList.allows(ip)) return 'ip_not_allowed';
  return undefined;
}

/**
 * A small, bounded, short-lived cache of key and agent state by key id, for the checks that run
 * on every introspection and refresh of an exchanged token (one indexed read per key per 5 s).
 */
export class KeyStates {
  private readonly rows: Repository<ApiKey>;
  private readonly entries = new Map<string, { state: KeyState | undefined; until: number }>();

  constructor(dataSource: DataSource) {
    this.rows = dataSource.getRepository(ApiKey);
  }

  async get(keyId: string): Promise<KeyState | undefined> {
    const now = Date.now();
    const cached = this.entries.get(keyId);
    if (cached && cached.until > now) return cached.state;
    if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 40) return undefined;
    const row = await this.rows.createQueryBuilder('key')
      .innerJoinAndSelect('key.agent', 'agent')
      .where('key.id = :id', { id: keyId })
      .getOne();
    let state: KeyState | undefined;
    if (row?.agent) {
      const key = toApiKeyRecord(row);
      state = {
        keyId: key.id,
        agentId: key.agentId,
        agentActive: row.agent.status === 'active',
        status: key.status,
        expiresAt: key.expiresAt,
        graceUntil: key.graceUntil,
        env: key.env,
        accessType: key.accessType,
        ipAllowList: key.ipAllowList,
        rateLimit: key.rateLimit,
      };
    }
    this.remember(keyId, state, now);
    return state;
  }

  /** Seeds the cache with what a key verification just read (saves the read on the next check). */
  seed(state: KeyState): void {
    this.remember(state.keyId, state, Date.now());
  }

  evict(filter: { keyIds?: readonly string[]; agentId?: string }): void {
    const keyIds = new Set(filter.keyIds ?? []);
    for (const [id, entry] of this.entries) {
      if (keyIds.has(id) || (filter.agentId !== undefined && entry.state?.agentId === filter.agentId)) this.entries.delete(id);
    }
  }

  private remember(keyId: string, state: KeyState | undefined, now: number): void {
    this.entries.delete(keyId);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(keyId, { state, until: now + KEY_STATE_TTL_MS });
  }
}
