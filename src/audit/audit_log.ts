import type { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { AuditEvent } from '../db/entities/audit_event.js';
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

/** Writes the audit trail: a database row and a log event for each security-relevant action. */
export class AuditLog {
  private readonly events: Repository<AuditEvent>;

  constructor(dataSource: DataSource, private readonly logger: Logger) {
    this.events = dataSource.getRepository(AuditEvent);
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

  async list(options: { limit?: number; targetType?: string; targetId?: string } = {}): Promise<AuditEvent[]> {
    return this.events.find({
      where: { ...(options.targetType ? { targetType: options.targetType } : {}), ...(options.targetId ? { targetId: options.targetId } : {}) },
      order: { occurredAt: 'DESC' },
      take: Math.min(options.limit ?? 100, 1000),
    });
  }
}
