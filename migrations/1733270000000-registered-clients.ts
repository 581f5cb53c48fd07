import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Clients registered through RFC 7591 dynamic registration live in `oauth_clients` like every
 * client, marked `registration = 'dynamic'` and with an expiry (`REGISTERED_CLIENT_TTL`);
 * clients made by the CLI, the admin API or the dashboard have neither (src/oidc/registration.ts).
 */
export class RegisteredClients1733270000000 implements MigrationInterface {
  name = 'RegisteredClients1733270000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('oauth_clients', [
      new TableColumn({ name: 'registration', type: 'varchar', length: '16', isNullable: true }),
      new TableColumn({ name: 'expiresAt', type: 'datetime', isNullable: true }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('oauth_clients', 'expiresAt');
    await queryRunner.dropColumn('oauth_clients', 'registration');
  }
}
