import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * An index on `token_revocations.revokedAt`: every instance asks, a few times a second while it
 * caches "not revoked" answers, which revocations were written since its last look
 * (src/oidc/revocations.ts). Without the index that is a scan of the whole registry.
 */
export class RevocationSweep1732900000000 implements MigrationInterface {
  name = 'RevocationSweep1732900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex('token_revocations', new TableIndex({ name: 'idx_token_revocations_revoked', columnNames: ['revokedAt'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('token_revocations', 'idx_token_revocations_revoked');
  }
}
