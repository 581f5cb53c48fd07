import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Indexes for the dashboard's audit-log filters (src/dashboard/routes/audit.ts): by action and by
 * actor, each newest first, so a filtered page is an index range read, not a scan of the trail.
 */
export class AuditFilters1733200500000 implements MigrationInterface {
  name = 'AuditFilters1733200500000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'idx_audit_events_action', columnNames: ['action', 'occurredAt'] }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'idx_audit_events_actor', columnNames: ['actor', 'occurredAt'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('audit_events', 'idx_audit_events_actor');
    await queryRunner.dropIndex('audit_events', 'idx_audit_events_action');
  }
}
