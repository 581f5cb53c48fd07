import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One row per security-relevant action: who did what, to what, when, from where. Never holds a secret. */
@Entity({ name: 'audit_events' })
@Index('idx_audit_events_target', ['targetType', 'targetId'])
@Index('idx_audit_events_occurred_at', ['occurredAt'])
@Index('idx_audit_events_action', ['action', 'occurredAt'])
@Index('idx_audit_events_actor', ['actor', 'occurredAt'])
export class AuditEvent {
  /** `evt_…` */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  @Column({ type: 'datetime' })
  occurredAt: Date;

  /** e.g. `key.created`, `key.revoked`, `key.verify_failed`, `client.created`. */
  @Column({ type: 'varchar', length: 64 })
  action: string;

  /** Who did it: `cli`, `user:usr_…`, `agent:agent_…`, `admin-token:…`, or `anonymous`. */
  @Column({ type: 'varchar', length: 128 })
  actor: string;

  @Column({ type: 'varchar', length: 32, nullable: true })
  targetType: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  targetId: string | null;

  /** Caller address when the action came over HTTP. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  /** Non-secret details (e.g. the failure reason, the key prefix). */
  @Column({ type: 'simple-json', nullable: true })
  details: Record<string, unknown> | null;
}
