import type { DataSource, EntityManager, Repository } from 'typeorm';
import type { AuditLog } from '../audit/audit_log.js';
import type { Config } from '../config/config.js';
import { Agent } from '../db/entities/agent.js';
import { ApiKey } from '../db/entities/api_key.js';
import { driverErrorCode } from '../db/driver_errors.js';
import { Conflict, NotFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { plausibleId, quoteId, type ActionContext } from './context.js';
import { primaryReads, type StaleReads } from '../db/replicas.js';
import { runInTransaction } from '../db/transaction.js';
import { canonicalAgentId } from './agent_ids.js';
import { displayPrefix, generateAgentToken, generateApiKey, type ApiKeyHasher, type CredentialKind } from './key_material.js';
import { parseSeconds, resolveKeySettings, type KeyOptionsInput, type KeySettings } from './key_settings.js';
import { keyStatus, toAgentRecord, toApiKeyRecord, type AgentRecord, type ApiKeyRecord } from './records.js';
import type { KeyRevocations } from './revocation.js';

export const DEFAULT_GRACE_SECONDS = 86_400;
export const MAX_GRACE_SECONDS = 30 * 86_400;
export const MAX_LIST_LIMIT = 1000;

/** A freshly minted key: `apiKey` is the secret, to be shown once and then forgotten. */
export interface CreatedApiKey {
  readonly key: ApiKeyRecord;
  readonly apiKey: string;
}

export interface RotatedApiKey extends CreatedApiKey {
  /** The old key as it is now: `replacedBy` set, valid until `graceUntil` (or revoked with grace 0). */
  readonly previous: ApiKeyRecord;
}

export interface RevokedApiKey {
  readonly key: ApiKeyRecord;
  /** True when the key was already revoked: nothing changed. */
  readonly alreadyRevoked: boolean;
}

export interface RotateOptions {
  /** How long the old key keeps working: seconds or a duration (`24h`); default 24 h; 0 revokes it at once. */
  readonly grace?: number | string;
}

/** Creating, reading, rotating and revoking API keys. Validation lives here, shared by CLI, admin API and dashboard. */
export class ApiKeyService {
  private readonly keys: Repository<ApiKey>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: Config,
    private readonly hasher: ApiKeyHasher,
    private readonly audit: AuditLog,
    private readonly revocations: KeyRevocations,
    /** Where listings are read (a replica may serve them: docs/scaling.md); everything else stays on `dataSource`. */
    private readonly reads: StaleReads = primaryReads(dataSource),
  ) {
    this.keys = dataSource.getRepository(ApiKey);
  }

  /** Validates options without writing anything (agent:create checks the key before creating the agent). */
  resolveSettings(input: KeyOptionsInput, defaultContact: string | null): KeySettings {
    return resolveKeySettings(input, { extraScopes: this.config.extraScopes, defaultContact });
  }

  /** A further key for an active agent. 404 for an unknown agent, 409 for a revoked one, 400 for bad options. */
  async create(agentId: string, input: KeyOptionsInput, context: ActionContext): Promise<CreatedApiKey> {
    const agent = await this.activeAgent(agentId, this.dataSource.manager);
    const settings = this.resolveSettings(input, agent.contactEmail);
    const created = await this.insert(this.dataSource.manager, agent.id, settings);
    await this.auditCreated(created.key, context);
    return created;
  }

  async get(keyId: string): Promise<ApiKeyRecord> {
    const key = await this.find(keyId);
    if (!key) throw new NotFound(`No API key with id ${quoteId(keyId)}.`);
    return key;
  }

  async find(keyId: string): Promise<ApiKeyRecord | undefined> {
    if (!plausibleId(keyId, 'key')) return undefined;
    const row = await this.keys.findOneBy({ id: keyId });
    return row ? toApiKeyRecord(row) : undefined;
  }

  /** Newest first. With `agentId`, that agent's keys (404 when the agent does not exist). */
  async list(filter: { agentId?: string; limit?: number } = {}): Promise<ApiKeyRecord[]> {
    const agent = filter.agentId !== undefined ? await this.existingAgent(filter.agentId, this.dataSource.manager) : undefined;
    const rows = await this.reads.dataSource().getRepository(ApiKey).find({
      where: agent ? { agentId: agent.id } : {},
      order: { createdAt: 'DESC', id: 'ASC' },
      take: Math.max(1, Math.min(filter.limit ?? 100, MAX_LIST_LIMIT)),
    });
    return rows.map(toApiKeyRecord);
  }

  /**
   * Mints a successor with the same agent and settings (same lifetime, counted from now) and
   * keeps the old key working for the grace period; grace 0 revokes it at once. Only an active,
   * not yet rotated key of an active agent can be rotated (409 otherwise).
   */
  async rotate(keyId: string, options: RotateOptions, context: ActionContext): Promise<RotatedApiKey> {
    const graceSeconds = parseSeconds(options.grace ?? DEFAULT_GRACE_SECONDS, 'grace', { min: 0, max: MAX_GRACE_SECONDS });
    const old = await this.get(keyId);
    const status = keyStatus(old);
    if (status !== 'active') throw new Conflict(`API key ${old.id} is ${status}; only an active key can be rotated.`);
    if (old.replacedBy) throw new Conflict(`API key ${old.id} was already rotated (replaced by ${old.replacedBy}); rotate that key instead.`);

    const now = new Date();
    const lifetimeMs = old.expiresAt ? old.expiresAt.getTime() - old.createdAt.getTime() : null;
    const settings: KeySettings = {
      name: old.name,
      scopes: [...old.scopes],
      accessType: old.accessType,
      env: old.env,
      expiresAt: lifetimeMs === null ? null : new Date(now.getTime() + lifetimeMs),
      ipAllowList: old.ipAllowList ? [...old.ipAllowList] : null,
      rateLimit: old.rateLimit,
      contactEmail: old.contactEmail,
    };
    const immediate = graceSeconds === 0;

    const created = await runInTransaction(this.dataSource, async (manager) => {
      await this.activeAgent(old.agentId, manager);
      // An agent access token hands the agent's one token slot to its successor (unique index).
      if (old.kind === 'agent_token') await manager.createQueryBuilder().update(ApiKey).set({ agentTokenOf: null }).where('id = :id', { id: old.id }).execute();
      const minted = await this.insertOrConflict(manager, old.agentId, settings, now, old.kind, `API key ${old.id} changed while rotating; try again.`);
      const result = await manager.createQueryBuilder().update(ApiKey)
        .set({
          replacedBy: minted.key.id,
          graceUntil: new Date(now.getTime() + graceSeconds * 1000),
          updatedAt: now,
          ...(immediate ? { status: 'revoked' as const, revokedAt: now } : {}),
        })
        .where('id = :id AND status = :active AND replacedBy IS NULL', { id: old.id, active: 'active' })
        .execute();
      // Someone else rotated or revoked it between our read and this write.
      if (result.affected !== 1) throw new Conflict(`API key ${old.id} changed while rotating; try again.`);
      return minted;
    });
    const previous = await this.get(old.id);

    await this.revocations.invalidate({ keyIds: [old.id], agentId: old.agentId, reason: 'key_rotated' });
    if (immediate) await this.revocations.revoked({ keyIds: [old.id], agentId: old.agentId, reason: 'key_rotated', actor: context.actor });
    await this.auditCreated(created.key, context, { rotated_from: old.id });
    await this.audit.record({
      action: 'key.rotated', actor: context.actor, targetType: 'api_key', targetId: old.id, ip: context.ip,
      details: { agent_id: old.agentId, prefix: old.prefix, replaced_by: created.key.id, grace_seconds: graceSeconds, grace_until: previous.graceUntil?.toISOString() ?? null },
    });
    return { ...created, previous };
  }

  /** Revokes at once, on every instance. Revoking a revoked key changes nothing and says so. */
  async revoke(keyId: string, context: ActionContext): Promise<RevokedApiKey> {
    const key = await this.get(keyId);
    if (key.status === 'revoked') return { key, alreadyRevoked: true };
    const now = new Date();
    await this.keys.createQueryBuilder().update(ApiKey)
      .set({ status: 'revoked', revokedAt: now, updatedAt: now, agentTokenOf: null })
      .where('id = :id AND status = :active', { id: key.id, active: 'active' })
      .execute();
    const revoked = await this.get(key.id);
    await this.revocations.invalidate({ keyIds: [key.id], agentId: key.agentId, reason: 'key_revoked' });
    await this.revocations.revoked({ keyIds: [key.id], agentId: key.agentId, reason: 'key_revoked', actor: context.actor });
    await this.audit.record({
      action: 'key.revoked', actor: context.actor, targetType: 'api_key', targetId: key.id, ip: context.ip,
      details: { agent_id: key.agentId, prefix: key.prefix },
    });
    return { key: revoked, alreadyRevoked: false };
  }

  /** Inside the agent-revocation transaction: revokes every key of the agent that is still active. */
  async revokeAllOfAgent(manager: EntityManager, agentId: string, now: Date): Promise<string[]> {
    const active = await manager.find(ApiKey, { select: { id: true }, where: { agentId, status: 'active' } });
    if (active.length === 0) return [];
    await manager.createQueryBuilder().update(ApiKey)
      .set({ status: 'revoked', revokedAt: now, updatedAt: now, agentTokenOf: null })
      .where('agentId = :agentId AND status = :active', { agentId, active: 'active' })
      .execute();
    return active.map((row) => row.id);
  }

  /**
   * Writes a new key row; returns the secret once. Used inside callers' transactions. An agent
   * access token (`kind` `agent_token`) takes the agent's token slot: the caller has freed it.
   */
  async insert(manager: EntityManager, agentId: string, settings: KeySettings, now: Date = new Date(), kind: CredentialKind = 'api_key'): Promise<CreatedApiKey> {
    const apiKey = kind === 'agent_token' ? generateAgentToken() : generateApiKey(settings.env);
    const row = manager.create(ApiKey, {
      id: newId('key'),
      agentId,
      name: settings.name,
      prefix: displayPrefix(apiKey),
      hash: this.hasher.hash(apiKey),
      scopes: settings.scopes,
      accessType: settings.accessType,
      env: settings.env,
      expiresAt: settings.expiresAt,
      ipAllowList: settings.ipAllowList,
      rateLimitPerMinute: settings.rateLimit?.perMinute ?? null,
      rateLimitPerHour: settings.rateLimit?.perHour ?? null,
      rateLimitBurst: settings.rateLimit?.burst ?? null,
      contactEmail: settings.contactEmail,
      createdAt: now,
      updatedAt: now,
      lastUsedAt: null,
      status: 'active',
      revokedAt: null,
      replacedBy: null,
      graceUntil: null,
      agentTokenOf: kind === 'agent_token' ? agentId : null,
    });
    await manager.insert(ApiKey, row);
    return { key: toApiKeyRecord(row), apiKey };
  }

  /** `insert`, with a lost race for the agent's token slot (the unique index) answered 409. */
  async insertOrConflict(manager: EntityManager, agentId: string, settings: KeySettings, now: Date, kind: CredentialKind, conflict: string): Promise<CreatedApiKey> {
    try {
      return await this.insert(manager, agentId, settings, now, kind);
    } catch (err) {
      if (kind === 'agent_token' && isDuplicateKey(err)) throw new Conflict(conflict);
      throw err;
    }
  }

  async auditCreated(key: ApiKeyRecord, context: ActionContext, extra: Record<string, unknown> = {}): Promise<void> {
    await this.audit.record({
      action: 'key.created', actor: context.actor, targetType: 'api_key', targetId: key.id, ip: context.ip,
      details: { agent_id: key.agentId, prefix: key.prefix, scopes: [...key.scopes], access_type: key.accessType, env: key.env, expires_at: key.expiresAt?.toISOString() ?? null, ...extra },
    });
  }

  /** The agent by id (the legacy `agt_…` form too, src/keys/agent_ids.ts); 404 when there is none. */
  async existingAgent(agentId: string, manager: EntityManager): Promise<AgentRecord> {
    const id = typeof agentId === 'string' ? canonicalAgentId(agentId) : agentId;
    const row = plausibleId(id, 'agent') ? await manager.findOneBy(Agent, { id }) : null;
    if (!row) throw new NotFound(`No agent with id ${quoteId(agentId)}.`);
    return toAgentRecord(row);
  }

  async activeAgent(agentId: string, manager: EntityManager): Promise<AgentRecord> {
    const agent = await this.existingAgent(agentId, manager);
    if (agent.status !== 'active') throw new Conflict(`Agent ${agent.id} is revoked; it cannot get new keys.`);
    return agent;
  }
}

const DUPLICATE_CODES = new Set(['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT']);

function isDuplicateKey(err: unknown): boolean {
  const code = driverErrorCode(err);
  return code !== undefined && DUPLICATE_CODES.has(code);
}
