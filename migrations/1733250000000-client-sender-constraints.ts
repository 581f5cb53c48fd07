import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Per-client requirements of RFC 9449 and RFC 9126 (docs/oauth.md): `requireDpop` (the engine's
 * `dpop_bound_access_tokens`) and `requirePar` (`require_pushed_authorization_requests`). Existing
 * clients keep behaving as before (false).
 */
export class ClientSenderConstraints1733250000000 implements MigrationInterface {
  name = 'ClientSenderConstraints1733250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('oauth_clients', [
      new TableColumn({ name: 'requireDpop', type: 'boolean', default: false }),
      new TableColumn({ name: 'requirePar', type: 'boolean', default: false }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('oauth_clients', 'requirePar');
    await queryRunner.dropColumn('oauth_clients', 'requireDpop');
  }
}
