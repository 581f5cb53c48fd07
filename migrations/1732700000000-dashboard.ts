import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Dashboard sign-in sessions (token stored hashed) and hourly per-key usage counts. */
export class Dashboard1732700000000 implements MigrationInterface {
  name = 'Dashboard1732700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(new Table({
      name: 'dashboard_sessions',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'tokenHash', type: 'varchar', length: '64' },
        { name: 'userId', type: 'varchar', length: '40' },
        { name: 'createdAt', type: 'datetime' },
        { name: 'lastSeenAt', type: 'datetime' },
        { name: 'expiresAt', type: 'datetime' },
        { name: 'ip', type: 'varchar', length: '64', isNullable: true },
      ],
    }));
    await queryRunner.createIndex('dashboard_sessions', new TableIndex({ name: 'uq_dashboard_sessions_token_hash', columnNames: ['tokenHash'], isUnique: true }));
    await queryRunner.createIndex('dashboard_sessions', new TableIndex({ name: 'idx_dashboard_sessions_user', columnNames: ['userId'] }));
    await queryRunner.createIndex('dashboard_sessions', new TableIndex({ name: 'idx_dashboard_sessions_expires_at', columnNames: ['expiresAt'] }));

    await queryRunner.createTable(new Table({
      name: 'key_usage_hours',
      columns: [
        { name: 'keyId', type: 'varchar', length: '40', isPrimary: true },
        { name: 'hourStart', type: 'datetime', isPrimary: true },
        { name: 'requests', type: 'int', default: 0 },
        { name: 'rejections', type: 'int', default: 0 },
      ],
    }));
    await queryRunner.createIndex('key_usage_hours', new TableIndex({ name: 'idx_key_usage_hours_hour', columnNames: ['hourStart'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('key_usage_hours');
    await queryRunner.dropTable('dashboard_sessions');
  }
}
