import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * `metadata_clients`: clients known by a client ID metadata document (an https URL as client_id)
 * that obtained a grant, with first and last use and the operator's block (src/oidc/metadata_clients.ts).
 */
export class MetadataClients1733260000000 implements MigrationInterface {
  name = 'MetadataClients1733260000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(new Table({
      name: 'metadata_clients',
      columns: [
        { name: 'url', type: 'varchar', length: '191', isPrimary: true },
        { name: 'host', type: 'varchar', length: '255' },
        { name: 'name', type: 'varchar', length: '128', isNullable: true },
        { name: 'firstUsedAt', type: 'datetime' },
        { name: 'lastUsedAt', type: 'datetime' },
        { name: 'blockedAt', type: 'datetime', isNullable: true },
      ],
    }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('metadata_clients');
  }
}
