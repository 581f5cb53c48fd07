import type { DataSource } from 'typeorm';
import type { KeyState, KeyStateRows } from '../../exchange/key_states.js';
import { BatchLoader } from '../../lib/batch_loader.js';
import { compile, param, SqlRunner, StatementsByCount } from './sql.js';
import { dateFromDb, intFromDb, jsonFromDb } from './values.js';

/** Key ids per batched read. */
const MAX_BATCH_IDS = 100;

/**
 * `api_keys` joined with `agents`, read by key id for the exchange's key-state cache
 * (src/exchange/key_states.ts): reads asked within a tick, or while one is in flight, share one
 * `id IN (…)` query (BatchLoader `serial`), so a burst of new sessions costs one round trip per
 * batch, not one per login.
 */
export class KeyStateTable implements KeyStateRows {
  private readonly runner: SqlRunner;
  private readonly selectByIds: StatementsByCount;
  private readonly reads: BatchLoader<string, KeyState | undefined>;

  constructor(dataSource: DataSource) {
    this.runner = new SqlRunner(dataSource);
    this.selectByIds = new StatementsByCount((count) => {
      const names = Array.from({ length: count }, (_, index) => `id${index}`);
      return compile(
        this.runner.builder.selectFrom('api_keys as k').innerJoin('agents as a', 'a.id', 'k.agentId')
          .select(['k.id', 'k.agentId', 'k.status', 'k.expiresAt', 'k.graceUntil', 'k.env', 'k.accessType', 'k.ipAllowList', 'k.rateLimitPerMinute', 'k.rateLimitPerHour', 'k.rateLimitBurst', 'a.status as agentStatus'])
          .where('k.id', 'in', names.map(param)),
        names,
      );
    });
    this.reads = new BatchLoader({
      dispatch: 'serial',
      maxBatch: MAX_BATCH_IDS,
      runBatch: async (keyIds) => {
        const ids = [...new Set(keyIds)];
        const rows = await this.runner.query(this.selectByIds.for(ids.length), ids);
        const found = new Map<string, KeyState>();
        for (const row of rows) {
          const state = toState(row);
          found.set(state.keyId, state);
        }
        return keyIds.map((keyId) => found.get(keyId));
      },
    });
  }

  read(keyId: string): Promise<KeyState | undefined> {
    return this.reads.load(keyId);
  }
}

function toState(row: Record<string, unknown>): KeyState {
  const perMinute = intFromDb(row.rateLimitPerMinute);
  const perHour = intFromDb(row.rateLimitPerHour);
  const burst = intFromDb(row.rateLimitBurst);
  const ipAllowList = jsonFromDb<string[]>(row.ipAllowList);
  return {
    keyId: String(row.id),
    agentId: String(row.agentId),
    agentActive: row.agentStatus === 'active',
    status: row.status as KeyState['status'],
    expiresAt: dateFromDb(row.expiresAt),
    graceUntil: dateFromDb(row.graceUntil),
    env: row.env as KeyState['env'],
    accessType: row.accessType as KeyState['accessType'],
    ipAllowList: ipAllowList && ipAllowList.length > 0 ? ipAllowList : null,
    rateLimit: perMinute !== null || perHour !== null || burst !== null ? { perMinute, perHour, burst } : null,
  };
}
