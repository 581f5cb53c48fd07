import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** API-key sessions (src/exchange): one row per live (key, session_id), holding its current token encrypted. */
export class ApiKeySessions1732800000000 implements MigrationInterface {
  name = 'ApiKeySessions1732800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(new Table({
      name: 'api_key_sessions',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'keyId', type: 'varchar', length: '40' },
        { name: 'agentId', type: 'varchar', length: '40' },
        { name: 'sessionId', type: 'varchar', length: '128' },
        { name: 'sessionHash', type: 'varchar', length: '64' },
        { name: 'createdAt', type: 'datetime' },
        { name: 'expiresAt', type: 'datetime' },
        { name: 'version', type: 'int' },
        { name: 'claimedBy', type: 'varchar', length: '40', isNullable: true },
        { name: 'claimedUntil', type: 'datetime', isNullable: true },
        { name: 'tokenCipher', type: 'text', isNullable: true },
        { name: 'tokenJti', type: 'varchar', length: '64', isNullable: true },
        { name: 'tokenIssuedAt', type: 'datetime', isNullable: true },
        { name: 'tokenExpiresAt', type: 'datetime', isNullable: true },
        { name: 'tokenFingerprint', type: 'varchar', length: '64', isNullable: true },
        { name: 'clientId', type: 'varchar', length: '64', isNullable: true },
        { name: 'scope', type: 'text', isNullable: true },
        { name: 'audience', type: 'varchar', length: '255', isNullable: true },
        { name: 'grantId', type: 'varchar', length: '64', isNullable: true },
        { name: 'refreshCipher', type: 'text', isNullable: true },
      ],
    }));
    await queryRunner.createIndex('api_key_sessions', new TableIndex({ name: 'uq_api_key_sessions_key_session', columnNames: ['keyId', 'sessionHash'], isUnique: true }));
    await queryRunner.createIndex('api_key_sessions', new TableIndex({ name: 'idx_api_key_sessions_agent', columnNames: ['agentId'] }));
    await queryRunner.createIndex('api_key_sessions', new TableIndex({ name: 'idx_api_key_sessions_expires', columnNames: ['expiresAt'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_key_sessions');
  }
}
