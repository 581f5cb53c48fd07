import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Migrations use TypeORM's schema builder rather than raw SQL so one file serves SQLite and
 * MySQL/MariaDB alike.
 */
export class AuditEvents1732406400000 implements MigrationInterface {
  name = 'AuditEvents1732406400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(new Table({
      name: 'audit_events',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'occurredAt', type: 'datetime' },
        { name: 'action', type: 'varchar', length: '64' },
        { name: 'actor', type: 'varchar', length: '128' },
        { name: 'targetType', type: 'varchar', length: '32', isNullable: true },
        { name: 'targetId', type: 'varchar', length: '64', isNullable: true },
        { name: 'ip', type: 'varchar', length: '64', isNullable: true },
        { name: 'details', type: 'text', isNullable: true },
      ],
    }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'idx_audit_events_target', columnNames: ['targetType', 'targetId'] }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'idx_audit_events_occurred_at', columnNames: ['occurredAt'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_events');
  }
}
