import type { Repository } from 'typeorm';
import type { ApiKey } from '../db/entities/api_key.js';
import type { Clock } from '../lib/clock.js';
import { constantTimeEqual } from '../lib/crypto.js';
import type { ChangeSweep } from './change_sweep.js';
import type { FailureLog, VerifyFailureReason } from './failure_log.js';
import { IpAllowList } from './ip_allow_list.js';
import { isWellFormedApiKey, type ApiKeyHasher } from './key_material.js';
import { keyStatus, toAgentRecord, toApiKeyRecord, type AgentRecord, type ApiKeyRecord } from './records.js';
import type { UsageTracker } from './usage_tracker.js';
import type { CachedKey, VerificationCache } from './verification_cache.js';

export type { VerifyFailureReason } from './failure_log.js';

/** Told of every successful verification, on the request path: must be cheap and must not throw. */
export type KeyVerifiedListener = (key: ApiKeyRecord, at: number) => void;

export type VerifyResult =
  | { readonly ok: true; readonly key: ApiKeyRecord; readonly agent: AgentRecord }
  /** `keyId` is set only when the key exists (expired, revoked, ip_not_allowed): for logs and limits, never for the caller. */
  | { readonly ok: false; readonly reason: VerifyFailureReason; readonly keyId?: string };

/**
 * The one place that decides whether a presented API key is good. Every entry point (the
 * `/auth/*` routes, token exchange, the admin API) goes through `verify`.
 */
export class KeyVerifier {
  private readonly verifiedListeners: KeyVerifiedListener[] = [];

  constructor(
    private readonly keys: Repository<ApiKey>,
    private readonly hasher: ApiKeyHasher,
    private readonly cache: VerificationCache,
    private readonly sweep: ChangeSweep,
    private readonly usage: UsageTracker,
    private readonly failures: FailureLog,
    private readonly clock: Clock,
  ) {}

  /**
   * Verifies a raw key presented by a caller at `ip`. Malformed and unknown keys both answer
   * `invalid` (no existence oracle), and malformed ones never reach the database. A repeated
   * verification within the cache lifetime costs no database read.
   */
  async verify(rawKey: string | null | undefined, ip?: string): Promise<VerifyResult> {
    if (rawKey === undefined || rawKey === null || rawKey === '') return { ok: false, reason: 'missing' };
    const now = this.clock.now();
    if (typeof rawKey !== 'string' || !isWellFormedApiKey(rawKey)) return this.fail({ reason: 'invalid', ip }, now);

    const hash = this.hasher.hash(rawKey);
    const sweeping = this.sweep.ensureFresh(now);
    if (sweeping !== undefined) await sweeping;
    const entry = this.cache.get(hash, now) ?? (await this.load(hash, now));
    if (!entry) return this.fail({ reason: 'invalid', ip }, now);
    return this.judge(entry, ip, now);
  }

  /** Registers a listener for successful verifications (e.g. per-key usage counts); returns its remover. */
  onVerified(listener: KeyVerifiedListener): () => void {
    this.verifiedListeners.push(listener);
    return () => {
      const index = this.verifiedListeners.indexOf(listener);
      if (index >= 0) this.verifiedListeners.splice(index, 1);
    };
  }

  /** Forgets every cached verification (tests, benchmarks). */
  clearCache(): void {
    this.cache.clear();
  }

  /** One indexed read by hash, with the agent joined in the same query. */
  private async load(hash: string, now: number): Promise<CachedKey | undefined> {
    const generation = this.cache.generation;
    const row = await this.keys.createQueryBuilder('key')
      .innerJoinAndSelect('key.agent', 'agent')
      .where('key.hash = :hash', { hash })
      .getOne();
    // The index did the finding; the constant-time compare guards against a collation or driver
    // that matches loosely (e.g. case-insensitively) ever letting a different value through.
    if (!row?.agent || !constantTimeEqual(row.hash, hash)) return undefined;
    const key = toApiKeyRecord(row);
    const entry: CachedKey = { key, agent: toAgentRecord(row.agent), allowList: IpAllowList.compile(key.ipAllowList) };
    // A revocation that landed while we were reading must not be undone by caching the old row.
    if (this.cache.generation === generation) this.cache.set(hash, entry, now);
    return entry;
  }

  private judge(entry: CachedKey, ip: string | undefined, now: number): VerifyResult {
    const { key, agent } = entry;
    if (agent.status === 'revoked') return this.fail({ reason: 'revoked', ip, keyId: key.id, prefix: key.prefix }, now);
    const status = keyStatus(key, now);
    if (status !== 'active') return this.fail({ reason: status, ip, keyId: key.id, prefix: key.prefix }, now);
    if (entry.allowList && !entry.allowList.allows(ip)) return this.fail({ reason: 'ip_not_allowed', ip, keyId: key.id, prefix: key.prefix }, now);
    this.usage.touch(key.id, now);
    for (const listener of this.verifiedListeners) {
      // Bookkeeping must never fail a good key.
      try { listener(key, now); } catch { /* the listener's own problem */ }
    }
    return { ok: true, key, agent };
  }

  private fail(failure: { reason: VerifyFailureReason; ip?: string; keyId?: string; prefix?: string }, now: number): VerifyResult {
    this.failures.record(failure, now);
    return failure.keyId ? { ok: false, reason: failure.reason, keyId: failure.keyId } : { ok: false, reason: failure.reason };
  }
}
