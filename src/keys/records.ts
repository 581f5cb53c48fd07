import type { Agent } from '../db/entities/agent.js';
import type { ApiKey } from '../db/entities/api_key.js';
import { credentialKind, type CredentialKind } from './key_material.js';
import type { AccessType, KeyEnv } from './scopes.js';

export type AgentStatus = 'active' | 'revoked';
/** `expired` is never stored: it is derived from `expiresAt` when reading. */
export type KeyStatus = 'active' | 'revoked' | 'expired';

/** Per-key rate-limit override; a null field falls back to the configured default. */
export interface RateLimitOverride {
  readonly perMinute: number | null;
  readonly perHour: number | null;
  readonly burst: number | null;
}

/** An agent as the domain hands it out: a frozen plain object, safe to cache and share. */
export interface AgentRecord {
  readonly id: string;
  readonly name: string;
  readonly contactEmail: string | null;
  readonly status: AgentStatus;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** An API key without its secret or hash. `status` is the stored one; use `keyStatus()` for the effective one. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly agentId: string;
  readonly name: string;
  /** The first 12 characters, e.g. `ak_live_AbCd`; 8 of an agent access token (`agt_AbCd`). */
  readonly prefix: string;
  /** `api_key` (`ak_live_`/`ak_test_`) or `agent_token` (`agt_`), from the prefix. */
  readonly kind: CredentialKind;
  /** True on the agent's current agent access token (not rotated away, not revoked). */
  readonly currentAgentToken: boolean;
  readonly scopes: readonly string[];
  readonly accessType: AccessType;
  readonly env: KeyEnv;
  readonly expiresAt: Date | null;
  readonly ipAllowList: readonly string[] | null;
  readonly rateLimit: RateLimitOverride | null;
  readonly contactEmail: string | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly status: 'active' | 'revoked';
  readonly revokedAt: Date | null;
  /** On a rotated key: the successor's id. */
  readonly replacedBy: string | null;
  /** On a rotated key: it stops working at this instant. */
  readonly graceUntil: Date | null;
}

export function toAgentRecord(row: Agent): AgentRecord {
  return Object.freeze({
    id: row.id,
    name: row.name,
    contactEmail: row.contactEmail,
    status: row.status,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  });
}

export function toApiKeyRecord(row: ApiKey): ApiKeyRecord {
  const hasOverride = row.rateLimitPerMinute !== null || row.rateLimitPerHour !== null || row.rateLimitBurst !== null;
  return Object.freeze({
    id: row.id,
    agentId: row.agentId,
    name: row.name,
    prefix: row.prefix,
    kind: credentialKind(row.prefix),
    currentAgentToken: row.agentTokenOf !== null && row.agentTokenOf !== undefined,
    scopes: Object.freeze([...row.scopes]),
    accessType: row.accessType,
    env: row.env,
    expiresAt: row.expiresAt,
    ipAllowList: row.ipAllowList && row.ipAllowList.length > 0 ? Object.freeze([...row.ipAllowList]) : null,
    rateLimit: hasOverride ? Object.freeze({ perMinute: row.rateLimitPerMinute, perHour: row.rateLimitPerHour, burst: row.rateLimitBurst }) : null,
    contactEmail: row.contactEmail,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    status: row.status,
    revokedAt: row.revokedAt,
    replacedBy: row.replacedBy,
    graceUntil: row.graceUntil,
  });
}

/**
 * The effective status at `now`: revoked when revoked or when its rotation grace period is over;
 * expired when past `expiresAt`; otherwise active. Revocation wins over expiry.
 */
export function keyStatus(key: Pick<ApiKeyRecord, 'status' | 'expiresAt' | 'graceUntil'>, now: number = Date.now()): KeyStatus {
  if (key.status === 'revoked') return 'revoked';
  if (key.graceUntil && key.graceUntil.getTime() <= now) return 'revoked';
  if (key.expiresAt && key.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}
