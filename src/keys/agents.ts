import type { DataSource, Repository } from 'typeorm';
import type { AuditLog } from '../audit/audit_log.js';
import { Agent } from '../db/entities/agent.js';
import { NotFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { canonicalAgentId } from './agent_ids.js';
import type { ApiKeyService, CreatedApiKey } from './api_keys.js';
import { plausibleId, quoteId, type ActionContext } from './context.js';
import { primaryReads, type StaleReads } from '../db/replicas.js';
import { runInTransaction } from '../db/transaction.js';
import { validateEmail, validateName, type KeyOptionsInput } from './key_settings.js';
import { toAgentRecord, type AgentRecord, type AgentStatus } from './records.js';
import type { KeyRevocations } from './revocation.js';
import { resolveAgentTokenSettings } from './agent_tokens.js';

export interface CreateAgentInput {
  name: string;
  contactEmail?: string | null;
}

export interface CreatedAgent extends CreatedApiKey {
  readonly agent: AgentRecord;
}

export interface RevokedAgent {
  readonly agent: AgentRecord;
  /** Keys this revocation ended (those still active until now). */
  readonly revokedKeyIds: readonly string[];
  readonly alreadyRevoked: boolean;
}

/** Agents: the service accounts that own API keys. */
export class AgentService {
  private readonly agents: Repository<Agent>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly apiKeys: ApiKeyService,
    private readonly audit: AuditLog,
    private readonly revocations: KeyRevocations,
    /** Where listings are read (a replica may serve them: docs/scaling.md); everything else stays on `dataSource`. */
    private readonly reads: StaleReads = primaryReads(dataSource),
  ) {
    this.agents = dataSource.getRepository(Agent);
  }

  /** An agent without keys. */
  async create(input: CreateAgentInput, context: ActionContext): Promise<AgentRecord> {
    const row = this.newRow(input);
    await this.agents.insert(row);
    const agent = toAgentRecord(row);
    await this.auditCreated(agent, context);
    return agent;
  }

  /**
   * An agent and its first key, atomically: every option is validated before anything is
   * written, so a bad scope leaves no key-less agent behind.
   */
  async createWithKey(input: CreateAgentInput & { key?: KeyOptionsInput; withToken?: boolean }, context: ActionContext): Promise<CreatedAgent> {
    const row = this.newRow(input);
    // With `withToken` the first credential is the agent's access token (`agt_…`) instead of an `ak_` key.
    const settings = input.withToken
      ? resolveAgentTokenSettings(this.apiKeys, input.key ?? {}, row.contactEmail)
      : this.apiKeys.resolveSettings(input.key ?? {}, row.contactEmail);
    const created = await runInTransaction(this.dataSource, async (manager) => {
      await manager.insert(Agent, row);
      return this.apiKeys.insert(manager, row.id, settings, row.createdAt, input.withToken ? 'agent_token' : 'api_key');
    });
    const agent = toAgentRecord(row);
    await this.auditCreated(agent, context);
    await this.apiKeys.auditCreated(created.key, context);
    return { agent, ...created };
  }

  async get(agentId: string): Promise<AgentRecord> {
    const agent = await this.find(agentId);
    if (!agent) throw new NotFound(`No agent with id ${quoteId(agentId)}.`);
    return agent;
  }

  /** By id; the legacy `agt_…` form resolves too (src/keys/agent_ids.ts). */
  async find(agentId: string): Promise<AgentRecord | undefined> {
    const id = typeof agentId === 'string' ? canonicalAgentId(agentId) : agentId;
    if (!plausibleId(id, 'agent')) return undefined;
    const row = await this.agents.findOneBy({ id });
    return row ? toAgentRecord(row) : undefined;
  }

  /** Newest first. */
  async list(filter: { status?: AgentStatus; limit?: number } = {}): Promise<AgentRecord[]> {
    const rows = await this.reads.dataSource().getRepository(Agent).find({
      where: filter.status ? { status: filter.status } : {},
      order: { createdAt: 'DESC', id: 'ASC' },
      take: Math.max(1, Math.min(filter.limit ?? 100, 1000)),
    });
    return rows.map(toAgentRecord);
  }

  /** Revokes the agent and every key it holds, at once and on every instance. Idempotent. */
  async revoke(agentId: string, context: ActionContext): Promise<RevokedAgent> {
    const agent = await this.get(agentId);
    const now = new Date();
    const revokedKeyIds = await runInTransaction(this.dataSource, async (manager) => {
      if (agent.status === 'active') {
        await manager.createQueryBuilder().update(Agent)
          .set({ status: 'revoked', revokedAt: now })
          .where('id = :id AND status = :active', { id: agent.id, active: 'active' })
          .execute();
      }
      // Also when the agent was already revoked: a key created in a race with that revocation dies too.
      return this.apiKeys.revokeAllOfAgent(manager, agent.id, now);
    });
    const alreadyRevoked = agent.status === 'revoked' && revokedKeyIds.length === 0;
    await this.revocations.invalidate({ keyIds: revokedKeyIds, agentId: agent.id, reason: 'agent_revoked' });
    if (!alreadyRevoked) {
      await this.revocations.revoked({ keyIds: revokedKeyIds, agentId: agent.id, reason: 'agent_revoked', actor: context.actor });
      await this.audit.record({
        action: 'agent.revoked', actor: context.actor, targetType: 'agent', targetId: agent.id, ip: context.ip,
        details: { revoked_keys: revokedKeyIds },
      });
    }
    return { agent: await this.get(agent.id), revokedKeyIds, alreadyRevoked };
  }

  private newRow(input: CreateAgentInput): Agent {
    return this.agents.create({
      id: newId('agent'),
      name: validateName(input.name, 'agent name'),
      contactEmail: validateEmail(input.contactEmail),
      status: 'active',
      createdAt: new Date(),
      revokedAt: null,
    });
  }

  private async auditCreated(agent: AgentRecord, context: ActionContext): Promise<void> {
    await this.audit.record({
      action: 'agent.created', actor: context.actor, targetType: 'agent', targetId: agent.id, ip: context.ip,
      details: { name: agent.name },
    });
  }
}
