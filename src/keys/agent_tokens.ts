import type { DataSource } from 'typeorm';
import { ApiKey } from '../db/entities/api_key.js';
import { runInTransaction } from '../db/transaction.js';
import type { Clock } from '../lib/clock.js';
import { Conflict, InvalidRequest, NotFound } from '../lib/errors.js';
import type { ApiKeyService, CreatedApiKey, RevokedApiKey, RotatedApiKey, RotateOptions } from './api_keys.js';
import type { ActionContext } from './context.js';
import type { KeyOptionsInput, KeySettings } from './key_settings.js';
import { keyStatus, toApiKeyRecord, type ApiKeyRecord } from './records.js';

/** The label of an agent access token when none is given: the dashboard section's name. */
export const AGENT_TOKEN_DEFAULT_NAME = 'API access';

/**
 * Settings of an agent access token: those of any key, except that it is always `live`. The token
 * text (`agt_…`) carries no environment, and a test credential that reads like a live one would be
 * a trap; an agent that needs a test credential gets an `ak_test_` key (docs/api-keys.md).
 */
export function resolveAgentTokenSettings(apiKeys: Pick<ApiKeyService, 'resolveSettings'>, input: KeyOptionsInput, defaultContact: string | null): KeySettings {
  if (input.env !== undefined && input.env !== null && input.env !== 'live') {
    throw new InvalidRequest('env: an agent access token is always "live"; use an ak_test_ API key for a test credential.');
  }
  return apiKeys.resolveSettings({ ...input, name: input.name ?? AGENT_TOKEN_DEFAULT_NAME, env: 'live' }, defaultContact);
}

/**
 * An agent's one agent access token (`agt_` + 32 characters, docs/reference.md §3). The token is an
 * `api_keys` row like any key (verified, limited, rotated, revoked and audited the same way); this
 * service only adds "one per agent", addressed by the agent: the row whose `agentTokenOf` is the
 * agent id. Rotation keeps the old token working for the grace period, as for any key.
 */
export class AgentTokenService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly apiKeys: ApiKeyService,
    private readonly clock: Clock,
  ) {}

  /** The agent's current token, or undefined when it has none. 404 for an unknown agent. */
  async current(agentId: string): Promise<ApiKeyRecord | undefined> {
    const agent = await this.apiKeys.existingAgent(agentId, this.dataSource.manager);
    const row = await this.dataSource.getRepository(ApiKey).findOneBy({ agentTokenOf: agent.id });
    return row ? toApiKeyRecord(row) : undefined;
  }

  /**
   * Issues the agent's token. 409 while it holds an active one (rotate or revoke that first); an
   * expired one gives up its slot (it keeps its row and history). 404/409 for an unknown/revoked agent.
   */
  async create(agentId: string, input: KeyOptionsInput, context: ActionContext): Promise<CreatedApiKey> {
    const agent = await this.apiKeys.activeAgent(agentId, this.dataSource.manager);
    const settings = resolveAgentTokenSettings(this.apiKeys, input, agent.contactEmail);
    const conflict = `Agent ${agent.id} already has an agent access token; rotate or revoke it first.`;
    const created = await runInTransaction(this.dataSource, async (manager) => {
      const holder = await manager.findOneBy(ApiKey, { agentTokenOf: agent.id });
      if (holder) {
        if (keyStatus(toApiKeyRecord(holder), this.clock.now()) === 'active') throw new Conflict(conflict);
        await manager.createQueryBuilder().update(ApiKey).set({ agentTokenOf: null }).where('id = :id', { id: holder.id }).execute();
      }
      return this.apiKeys.insertOrConflict(manager, agent.id, settings, new Date(this.clock.now()), 'agent_token', conflict);
    });
    await this.apiKeys.auditCreated(created.key, context, { kind: 'agent_token' });
    return created;
  }

  /** A new token with the same settings; the old one works for the grace period (default 24 h; 0 revokes it). */
  async rotate(agentId: string, options: RotateOptions, context: ActionContext): Promise<RotatedApiKey> {
    return this.apiKeys.rotate((await this.required(agentId)).id, options, context);
  }

  /** Revokes the token at once; sessions and tokens derived from it end too. The agent may then get a new one. */
  async revoke(agentId: string, context: ActionContext): Promise<RevokedApiKey> {
    return this.apiKeys.revoke((await this.required(agentId)).id, context);
  }

  private async required(agentId: string): Promise<ApiKeyRecord> {
    const token = await this.current(agentId);
    if (!token) throw new NotFound(`Agent ${JSON.stringify(String(agentId).slice(0, 64))} has no agent access token.`);
    return token;
  }
}
