import { Table, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Agents (service accounts) and their API keys. The key is stored only as a keyed hash. */
export class AgentsAndApiKeys1732406401000 implements MigrationInterface {
  name = 'AgentsAndApiKeys1732406401000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(new Table({
      name: 'agents',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'name', type: 'varchar', length: '100' },
        { name: 'contactEmail', type: 'varchar', length: '254', isNullable: true },
        { name: 'status', type: 'varchar', length: '16' },
        { name: 'createdAt', type: 'datetime' },
        { name: 'revokedAt', type: 'datetime', isNullable: true },
      ],
    }));
    await queryRunner.createIndex('agents', new TableIndex({ name: 'idx_agents_created_at', columnNames: ['createdAt'] }));

    await queryRunner.createTable(new Table({
      name: 'api_keys',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'agentId', type: 'varchar', length: '40' },
        { name: 'name', type: 'varchar', length: '100' },
        { name: 'prefix', type: 'varchar', length: '12' },
        { name: 'hash', type: 'varchar', length: '64' },
        { name: 'scopes', type: 'text' },
        { name: 'accessType', type: 'varchar', length: '16' },
        { name: 'env', type: 'varchar', length: '8' },
        { name: 'expiresAt', type: 'datetime', isNullable: true },
        { name: 'ipAllowList', type: 'text', isNullable: true },
        { name: 'rateLimitPerMinute', type: 'int', isNullable: true },
        { name: 'rateLimitPerHour', type: 'int', isNullable: true },
        { name: 'rateLimitBurst', type: 'int', isNullable: true },
        { name: 'contactEmail', type: 'varchar', length: '254', isNullable: true },
        { name: 'createdAt', type: 'datetime' },
        { name: 'updatedAt', type: 'datetime' },
        { name: 'lastUsedAt', type: 'datetime', isNullable: true },
        { name: 'status', type: 'varchar', length: '16' },
        { name: 'revokedAt', type: 'datetime', isNullable: true },
        { name: 'replacedBy', type: 'varchar', length: '40', isNullable: true },
        { name: 'graceUntil', type: 'datetime', isNullable: true },
      ],
    }));
    await queryRunner.createIndex('api_keys', new TableIndex({ name: 'uq_api_keys_hash', columnNames: ['hash'], isUnique: true }));
    await queryRunner.createIndex('api_keys', new TableIndex({ name: 'idx_api_keys_agent', columnNames: ['agentId'] }));
    await queryRunner.createIndex('api_keys', new TableIndex({ name: 'idx_api_keys_updated_at', columnNames: ['updatedAt'] }));
    await queryRunner.createForeignKey('api_keys', new TableForeignKey({
      name: 'fk_api_keys_agent', columnNames: ['agentId'], referencedTableName: 'agents', referencedColumnNames: ['id'], onDelete: 'CASCADE',
    }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_keys');
    await queryRunner.dropTable('agents');
  }
}
