import type { DataSource, Repository } from 'typeorm';
import { ApiKey } from '../db/entities/api_key.js';
import { toApiKeyRecord, type ApiKeyRecord, type KeyStatus } from '../keys/records.js';
import type { KeyEnv } from '../keys/scopes.js';
import type { Clock } from '../lib/clock.js';

/** Page sizes the keys list offers; anything else is refused (the page is always bounded). */
export const KEY_PAGE_SIZES = [25, 50, 100] as const;
export type KeyPageSize = (typeof KEY_PAGE_SIZES)[number];
export const DEFAULT_KEY_PAGE_SIZE: KeyPageSize = 50;

/** What the keys list filters by; every field already checked by the route (src/dashboard/routes/key_list.ts). */
export interface KeySearchFilter {
  /** Case-insensitive part of the key's nickname or prefix, or a whole `key_…` id. */
  readonly text?: string;
  /** The effective status, as `keyStatus()` decides it now. */
  readonly status?: KeyStatus;
  readonly env?: KeyEnv;
  readonly limit: KeyPageSize;
  /** The last row of the previous page. */
  readonly after?: { createdAt: Date; id: string };
}

export interface KeySearchRow {
  readonly key: ApiKeyRecord;
  readonly agentName: string;
}

/** `%`, `_` and the escape character itself are literal in what the user typed. */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, (char) => `!${char}`)}%`;
}

/**
 * The dashboard's keys list, filtered and paged in SQL (never "read everything, filter in
 * memory"): nickname or prefix (LIKE with an explicit escape character, the same on SQLite and
 * MySQL), effective status (the conditions of `keyStatus()`, against the clock), environment.
 * Newest first with keyset paging on (createdAt DESC, id ASC), the order of `apiKeys.list()`, so
 * a later page costs what the first does and a key created meanwhile does not shift the pages.
 */
export class KeySearch {
  private readonly keys: Repository<ApiKey>;

  constructor(dataSource: DataSource, private readonly clock: Clock) {
    this.keys = dataSource.getRepository(ApiKey);
  }

  /** One page, and whether there is a next one. */
  async page(filter: KeySearchFilter): Promise<{ rows: KeySearchRow[]; more: boolean }> {
    const now = new Date(this.clock.now());
    const query = this.keys.createQueryBuilder('k')
      .innerJoinAndSelect('k.agent', 'agent')
      .orderBy('k.createdAt', 'DESC')
      .addOrderBy('k.id', 'ASC')
      .limit(filter.limit + 1);
    if (filter.text) {
      query.andWhere(`(LOWER(k.name) LIKE :pattern ESCAPE '!' OR LOWER(k.prefix) LIKE :pattern ESCAPE '!' OR k.id = :text)`, { pattern: likePattern(filter.text), text: filter.text });
    }
    const liveGrace = '(k.graceUntil IS NULL OR k.graceUntil > :now)';
    if (filter.status === 'active') query.andWhere(`k.status = 'active' AND ${liveGrace} AND (k.expiresAt IS NULL OR k.expiresAt > :now)`, { now });
    if (filter.status === 'expired') query.andWhere(`k.status = 'active' AND ${liveGrace} AND k.expiresAt IS NOT NULL AND k.expiresAt <= :now`, { now });
    if (filter.status === 'revoked') query.andWhere(`(k.status = 'revoked' OR (k.graceUntil IS NOT NULL AND k.graceUntil <= :now))`, { now });
    if (filter.env) query.andWhere('k.env = :env', { env: filter.env });
    if (filter.after) {
      query.andWhere('(k.createdAt < :afterAt OR (k.createdAt = :afterAt AND k.id > :afterId))', { afterAt: filter.after.createdAt, afterId: filter.after.id });
    }
    const found = await query.getMany();
    return {
      rows: found.slice(0, filter.limit).map((row) => ({ key: toApiKeyRecord(row), agentName: row.agent?.name ?? row.agentId })),
      more: found.length > filter.limit,
    };
  }
}
