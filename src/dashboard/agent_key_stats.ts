import type { DataSource, Repository } from 'typeorm';
import { ApiKey } from '../db/entities/api_key.js';
import type { Clock } from '../lib/clock.js';

/** One agent's keys as the agents list shows them. */
export interface AgentKeyStats {
  /** Every key the agent holds, revoked and expired ones included. */
  readonly total: number;
  /** Keys that work now (the effective status of `keyStatus()`: not revoked, not past grace or expiry). */
  readonly active: number;
  /** The latest `lastUsedAt` of its keys; null when none was ever used. */
  readonly lastUsedAt: Date | null;
}

export const NO_KEYS: AgentKeyStats = Object.freeze({ total: 0, active: 0, lastUsedAt: null });

/**
 * Key counts and last use per agent for the agents list: one grouped query over `api_keys` for
 * the whole page (not one per agent), the same SQL on SQLite and MySQL/MariaDB, served by the
 * `idx_api_keys_agent` index. "Active" is decided in SQL exactly as `keyStatus()` decides it
 * (stored status, rotation grace, expiry), against the clock passed in.
 *
 * `lastUsedAt` is written in batches about once a minute per key (keys/usage_tracker.ts), so the
 * list can be up to a minute behind; the per-key usage counts on the key page are not.
 */
export class AgentKeyStatsReader {
  private readonly keys: Repository<ApiKey>;

  constructor(private readonly dataSource: DataSource, private readonly clock: Clock) {
    this.keys = dataSource.getRepository(ApiKey);
  }

  /** Stats for each of `agentIds` (at most 1000 — the list's bound); agents without keys get `NO_KEYS`. */
  async forAgents(agentIds: readonly string[]): Promise<Map<string, AgentKeyStats>> {
    const result = new Map<string, AgentKeyStats>(agentIds.map((id) => [id, NO_KEYS]));
    if (agentIds.length === 0) return result;
    if (agentIds.length > 1000) throw new RangeError('at most 1000 agents at once');
    const now = new Date(this.clock.now());
    const rows = await this.keys.createQueryBuilder('k')
      .select('k.agentId', 'agentId')
      .addSelect('COUNT(*)', 'total')
      .addSelect(`SUM(CASE WHEN k.status = 'active' AND (k.graceUntil IS NULL OR k.graceUntil > :now) AND (k.expiresAt IS NULL OR k.expiresAt > :now) THEN 1 ELSE 0 END)`, 'active')
      .addSelect('MAX(k.lastUsedAt)', 'lastUsedAt')
      .where('k.agentId IN (:...agentIds)', { agentIds: [...agentIds] })
      .setParameter('now', now)
      .groupBy('k.agentId')
      .getRawMany<{ agentId: string; total: number | string; active: number | string | null; lastUsedAt: unknown }>();
    // A raw MAX() comes back as the driver gives it (a string on SQLite, a Date on MySQL): the
    // column's own hydration turns either into the Date an entity read would give.
    const column = this.keys.metadata.findColumnWithPropertyName('lastUsedAt')!;
    for (const row of rows) {
      const lastUsedAt = row.lastUsedAt === null || row.lastUsedAt === undefined ? null : this.dataSource.driver.prepareHydratedValue(row.lastUsedAt, column) as Date;
      result.set(row.agentId, { total: Number(row.total), active: Number(row.active ?? 0), lastUsedAt });
    }
    return result;
  }
}
