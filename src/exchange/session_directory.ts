import type { AuditLog } from '../audit/audit_log.js';
import type { Config } from '../config/config.js';
import type { ApiKeySession } from '../db/entities/api_key_session.js';
import type { ActionContext, ApiKeyRecord } from '../keys/index.js';
import { type Clock, systemClock } from '../lib/clock.js';
import type { PayloadStore } from '../oidc/adapter.js';
import type { RevocationRegistry } from '../oidc/revocations.js';
import type { KeyLiveness } from './key_liveness.js';
import { registryHorizon } from './revoked_keys.js';
import { sessionHash } from './session_id.js';
import type { SessionStore } from './sessions.js';

/** A live session as the dashboard, the admin API and `GET /auth/sessions` show it. */
export interface SessionView {
  id: string;
  session_id: string;
  key_id: string;
  agent_id: string;
  created_at: string;
  expires_at: string;
  client_id: string | null;
  scope: string | null;
  token_expires_at: string | null;
}

export function toSessionView(row: ApiKeySession): SessionView {
  return {
    id: row.id,
    session_id: row.sessionId,
    key_id: row.keyId,
    agent_id: row.agentId,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt.toISOString(),
    client_id: row.clientId,
    scope: row.scope,
    token_expires_at: row.tokenExpiresAt?.toISOString() ?? null,
  };
}

export interface SessionDirectoryDependencies {
  readonly config: Pick<Config, 'tokenTtl'>;
  readonly sessions: Pick<SessionStore, 'find' | 'findById' | 'list' | 'delete'>;
  readonly keyLiveness: Pick<KeyLiveness, 'status'>;
  readonly revocations: Pick<RevocationRegistry, 'revoke'>;
  readonly payloads: Pick<PayloadStore, 'deleteGrantFamily'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly clock?: Clock;
}

/**
 * The API-key sessions as their owners see them: the live sessions of a key (`GET /auth/sessions`)
 * or of an agent (the dashboard's `ApiKeySessionDirectory`), and ending one (`DELETE
 * /auth/sessions/…`, by `ses_…` id for the dashboard and admin API), which ends its tokens too.
 */
export class SessionDirectory {
  private readonly clock: Clock;

  constructor(private readonly deps: SessionDirectoryDependencies) {
    this.clock = deps.clock ?? systemClock;
  }

  /** Live sessions of a key or of an agent, newest first (sessions of keys that stopped working are over). */
  async listSessions(filter: { keyId: string } | { agentId: string }, limit = 100): Promise<SessionView[]> {
    return (await this.liveSessions(filter, limit)).map(toSessionView);
  }

  /**
   * The dashboard's `ApiKeySessionDirectory`: the agent's live sessions, newest first. `lastUsedAt`
   * is when the session's current token was issued (refreshes do not touch the session row).
   */
  async listActiveForAgent(agentId: string, options: { limit: number }): Promise<Array<{ id: string; keyId: string; sessionId: string; createdAt: Date; lastUsedAt: Date | null; expiresAt: Date | null }>> {
    return (await this.liveSessions({ agentId }, options.limit)).map((row) => ({
      id: row.id,
      keyId: row.keyId,
      sessionId: row.sessionId,
      createdAt: row.createdAt,
      lastUsedAt: row.tokenIssuedAt,
      expiresAt: row.tokenExpiresAt,
    }));
  }

  /** Ends the session `sessionId` of this key; false when there is no such live session. */
  async endSession(key: Pick<ApiKeyRecord, 'id'>, sessionId: string, by: ActionContext): Promise<boolean> {
    return this.endAndRecord(await this.deps.sessions.find(key.id, sessionHash(sessionId)), by);
  }

  /** Ends a session by its `ses_…` id (dashboard, admin API); false when it is gone already. */
  async endSessionById(id: string, by: ActionContext): Promise<boolean> {
    return this.endAndRecord(await this.deps.sessions.findById(id), by);
  }

  private async liveSessions(filter: { keyId: string } | { agentId: string }, limit: number): Promise<ApiKeySession[]> {
    const bounded = Math.max(1, Math.min(limit, 1000));
    const rows = 'keyId' in filter ? await this.deps.sessions.list({ keyId: filter.keyId }, bounded) : await this.deps.sessions.list({ agentId: filter.agentId }, bounded);
    const now = this.clock.now();
    const live: ApiKeySession[] = [];
    for (const row of rows) {
      if (row.expiresAt.getTime() <= now) continue;
      if ((await this.deps.keyLiveness.status(row.keyId)).status !== 'active') continue;
      live.push(row);
    }
    return live;
  }

  private async endAndRecord(row: ApiKeySession | null | undefined, by: ActionContext): Promise<boolean> {
    if (!row) return false;
    await this.endSessionRow(row);
    await this.deps.audit.record({
      action: 'session.ended', actor: by.actor, ip: by.ip, targetType: 'api_key_session', targetId: row.id,
      details: { key_id: row.keyId, agent_id: row.agentId },
    });
    return true;
  }

  private async endSessionRow(row: ApiKeySession): Promise<void> {
    // The row goes first: a concurrent exchange then starts a fresh session (a new sid) instead of
    // re-issuing under the sid about to be revoked.
    await this.deps.sessions.delete(row.id);
    // Registry rows must outlive every token they could match.
    await this.deps.revocations.revoke({ kind: 'session', value: row.id }, registryHorizon(this.deps.config));
    if (row.grantId) await this.deps.payloads.deleteGrantFamily(row.grantId);
  }
}
