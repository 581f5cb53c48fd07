import type { AuditLog } from '../audit/audit_log.js';
import type { Config } from '../config/config.js';
import { ApiKey } from '../db/entities/api_key.js';
import type { Database } from '../db/database.js';
import type { StaleReads } from '../db/replicas.js';
import type { EventBus } from '../lib/bus.js';
import { type Clock, systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { AgentService } from './agents.js';
import { AgentTokenService } from './agent_tokens.js';
import { ApiKeyService } from './api_keys.js';
import { ChangeSweep } from './change_sweep.js';
import { FailureLog } from './failure_log.js';
import { ApiKeyHasher } from './key_material.js';
import { KeyRevocations, type KeyRevokedListener } from './revocation.js';
import { UsageTracker } from './usage_tracker.js';
import { VerificationCache } from './verification_cache.js';
import { KeyVerifier, type KeyVerifiedListener } from './verifier.js';

/** Verifications are trusted this long before the key row is read again. Revocation evicts at once. */
export const VERIFICATION_CACHE_TTL_MS = 30_000;
export const VERIFICATION_CACHE_MAX_ENTRIES = 10_000;

/** Agents, API keys and the one verifier: `services.keys`. */
export interface KeyServices {
  readonly agents: AgentService;
  readonly apiKeys: ApiKeyService;
  /** Each agent's one agent access token (`agt_…`): an API key addressed by its agent. */
  readonly agentTokens: AgentTokenService;
  readonly verifier: KeyVerifier;
  /** lastUsedAt bookkeeping; `flush()` writes what is pending now. */
  readonly usage: UsageTracker;
  /** Pending audit rows of failed verifications; `drain()` waits for them. */
  readonly failures: FailureLog;
  /**
   * Called after a key (or every key of an agent) is revoked, on the instance that revoked it,
   * before the revoking call returns: the place to end sessions and tokens issued from those keys.
   * Other instances learn through the bus channel `keys.invalidate`.
   */
  onRevoked(listener: KeyRevokedListener): () => void;
  /**
   * Called on every successful key verification, synchronously on the request path (keep it to
   * an in-memory increment). The dashboard counts per-key usage with it. Returns the remover.
   */
  onVerified(listener: KeyVerifiedListener): () => void;
  close(): Promise<void>;
}

export interface KeyServiceDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly bus: EventBus;
  /** Overrides for benchmarks and tests; 0 turns the verification cache off. */
  readonly cacheTtlMs?: number;
  /** "Now" for verification (expiry, grace) and the change sweep; default the system clock. */
  readonly clock?: Clock;
  /** Where key and agent listings are read; default the primary. */
  readonly staleReads?: StaleReads;
}

export function buildKeyServices(deps: KeyServiceDeps): KeyServices {
  const { dataSource } = deps.database;
  const keyRows = dataSource.getRepository(ApiKey);
  const hasher = new ApiKeyHasher(deps.config.secret);
  const cache = new VerificationCache(deps.cacheTtlMs ?? VERIFICATION_CACHE_TTL_MS, VERIFICATION_CACHE_MAX_ENTRIES);
  const revocations = new KeyRevocations(deps.bus, cache, deps.logger);
  revocations.start();
  const usage = new UsageTracker(keyRows, deps.logger);
  const failures = new FailureLog(deps.audit, deps.logger);
  const apiKeys = new ApiKeyService(dataSource, deps.config, hasher, deps.audit, revocations, deps.staleReads);
  const agents = new AgentService(dataSource, apiKeys, deps.audit, revocations, deps.staleReads);
  const clock = deps.clock ?? systemClock;
  const agentTokens = new AgentTokenService(dataSource, apiKeys, clock);
  const verifier = new KeyVerifier(keyRows, hasher, cache, new ChangeSweep(keyRows, cache, deps.logger, clock), usage, failures, clock);
  return {
    agents,
    apiKeys,
    agentTokens,
    verifier,
    usage,
    failures,
    onRevoked: (listener) => revocations.onRevoked(listener),
    onVerified: (listener) => verifier.onVerified(listener),
    close: async () => {
      revocations.close();
      await usage.close();
      await failures.drain();
    },
  };
}

export type { ActionContext } from './context.js';
export type { AgentRecord, ApiKeyRecord, KeyStatus, RateLimitOverride } from './records.js';
export { keyStatus } from './records.js';
export type { KeyOptionsInput } from './key_settings.js';
export type { KeyRevokedEvent, KeyRevokedListener, KeyInvalidation } from './revocation.js';
export { KEY_INVALIDATION_CHANNEL } from './revocation.js';
export type { KeyVerifiedListener, VerifyResult, VerifyFailureReason } from './verifier.js';
