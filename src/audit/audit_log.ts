import type { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { AuditEvent } from '../db/entities/audit_event.js';
import { primaryReads, type StaleReads } from '../db/replicas.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';

export interface AuditEntry {
  action: string;
  actor: string;
  targetType?: string;
  targetId?: string;
  ip?: string;
  /** Non-secret context. The logger redacts secrets anyway, but the database row has no such net. */
  details?: Record<string, unknown>;
}

export interface AuditPageFilter {
  readonly limit: number;
  readonly action?: string;
  readonly actor?: string;
  readonly targetType?: string;
  readonly targetId?: string;
  /** Inclusive lower bound. */
  readonly from?: Date;
  /** Exclusive upper bound. */
  readonly until?: Date;
  /** The last row of the previous page. */
  readonly before?: { at: Date; id: string };
}

/** Writes the audit trail: a database row and a log event for each security-relevant action. */
export class AuditLog {
  private readonly events: Repository<AuditEvent>;

  /** @param reads where the pages are read (a replica may serve them: docs/scaling.md); writes stay on `dataSource`. */
  constructor(dataSource: DataSource, private readonly logger: Logger, private readonly reads: StaleReads = primaryReads(dataSource)) {
    this.events = dataSource.getRepository(AuditEvent);
  }

  private readEvents(): Repository<AuditEvent> {
    return this.reads.dataSource().getRepository(AuditEvent);
  }

  async record(entry: AuditEntry): Promise<void> {
    const event = this.events.create({
      id: newId('evt'),
      occurredAt: new Date(),
      action: entry.action,
      actor: entry.actor,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      ip: entry.ip ?? null,
      details: entry.details ?? null,
    });
    // insert, not save: save would SELECT first to decide between insert and update.
    await this.events.insert(event as QueryDeepPartialEntity<AuditEvent>);
    this.logger.info('audit', { audit: { id: event.id, action: event.action, actor: event.actor, target_type: event.targetType, target_id: event.targetId, ip: event.ip, details: event.details } });
  }

  /**
   * One page of the trail, newest first, for the dashboard: exact `action` / `actor` / target
   * filters and a time range, each served by an index (migrations: action, actor, target,
   * occurredAt); `before` continues after the last row of the previous page (keyset paging on
   * (occurredAt, id), so deep pages cost the same as the first). `limit` is capped at 500.
   */
  async page(filter: AuditPageFilter): Promise<{ events: AuditEvent[]; more: boolean }> {
    const limit = Math.max(1, Math.min(filter.limit, 500));
    const query = this.readEvents().createQueryBuilder('e');
    if (filter.action) query.andWhere('e.action = :action', { action: filter.action });
    if (filter.actor) query.andWhere('e.actor = :actor', { actor: filter.actor });
    if (filter.targetType) query.andWhere('e.targetType = :targetType AND e.targetId = :targetId', { targetType: filter.targetType, targetId: filter.targetId });
    if (filter.from) query.andWhere('e.occurredAt >= :from', { from: filter.from });
    if (filter.until) query.andWhere('e.occurredAt < :until', { until: filter.until });
    if (filter.before) query.andWhere('(e.occurredAt < :at OR (e.occurredAt = :at AND e.id < :id))', { at: filter.before.at, id: filter.before.id });
    const rows = await query.orderBy('e.occurredAt', 'DESC').addOrderBy('e.id', 'DESC').limit(limit + 1).getMany();
    return { events: rows.slice(0, limit), more: rows.length > limit };
  }

  /** The actions the trail holds (for the filter's choices), read from the action index. */
  async actions(max = 200): Promise<string[]> {
    const rows: Array<{ action: string }> = await this.readEvents().createQueryBuilder('e').select('DISTINCT e.action', 'action').orderBy('action').limit(max).getRawMany();
    return rows.map((row) => row.action);
  }

  async list(options: { limit?: number; targetType?: string; targetId?: string } = {}): Promise<AuditEvent[]> {
    return this.readEvents().find({
      where: { ...(options.targetType ? { targetType: options.targetType } : {}), ...(options.targetId ? { targetId: options.targetId } : {}) },
      order: { occurredAt: 'DESC' },
      take: Math.min(options.limit ?? 100, 1000),
    });
  }
}
