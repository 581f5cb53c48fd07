import { Table, TableIndex, TableUnique, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The OAuth 2.0 / OIDC core: users, OAuth clients, resource servers, everything oidc-provider
 * persists, signing keys and the revocation registry for JWT access tokens.
 */
export class OidcCore1732500000000 implements MigrationInterface {
  name = 'OidcCore1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(new Table({
      name: 'users',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'email', type: 'varchar', length: '254' },
        { name: 'passwordHash', type: 'varchar', length: '100' },
        { name: 'isAdmin', type: 'boolean', default: false },
        { name: 'createdAt', type: 'datetime' },
      ],
      uniques: [new TableUnique({ name: 'uq_users_email', columnNames: ['email'] })],
    }));

    await queryRunner.createTable(new Table({
      name: 'oauth_clients',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'name', type: 'varchar', length: '128' },
        { name: 'secretHash', type: 'varchar', length: '64', isNullable: true },
        { name: 'tokenEndpointAuthMethod', type: 'varchar', length: '32' },
        { name: 'grantTypes', type: 'text' },
        { name: 'redirectUris', type: 'text' },
        { name: 'postLogoutRedirectUris', type: 'text' },
        { name: 'scope', type: 'varchar', length: '1000' },
        { name: 'jwks', type: 'text', isNullable: true },
        { name: 'jwksUri', type: 'varchar', length: '2048', isNullable: true },
        { name: 'createdAt', type: 'datetime' },
      ],
    }));

    await queryRunner.createTable(new Table({
      name: 'resource_servers',
      columns: [
        { name: 'audience', type: 'varchar', length: '255', isPrimary: true },
        { name: 'format', type: 'varchar', length: '8' },
        { name: 'scope', type: 'varchar', length: '1000', isNullable: true },
        { name: 'accessTokenTtl', type: 'int', isNullable: true },
        { name: 'createdAt', type: 'datetime' },
      ],
    }));

    await queryRunner.createTable(new Table({
      name: 'oidc_payloads',
      columns: [
        { name: 'model', type: 'varchar', length: '40', isPrimary: true },
        { name: 'id', type: 'varchar', length: '191', isPrimary: true },
        { name: 'payload', type: 'text' },
        { name: 'grantId', type: 'varchar', length: '64', isNullable: true },
        { name: 'uid', type: 'varchar', length: '64', isNullable: true },
        { name: 'userCode', type: 'varchar', length: '64', isNullable: true },
        { name: 'clientId', type: 'varchar', length: '64', isNullable: true },
        { name: 'expiresAt', type: 'datetime', isNullable: true },
        { name: 'consumedAt', type: 'datetime', isNullable: true },
      ],
    }));
    for (const [name, column] of [['grant', 'grantId'], ['uid', 'uid'], ['user_code', 'userCode'], ['client', 'clientId'], ['expires', 'expiresAt']] as const) {
      await queryRunner.createIndex('oidc_payloads', new TableIndex({ name: `idx_oidc_payloads_${name}`, columnNames: [column] }));
    }

    await queryRunner.createTable(new Table({
      name: 'signing_keys',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        { name: 'kid', type: 'varchar', length: '64' },
        { name: 'alg', type: 'varchar', length: '16' },
        { name: 'publicJwk', type: 'text' },
        { name: 'privateJwkSealed', type: 'text' },
        { name: 'createdAt', type: 'datetime' },
        { name: 'retiredAt', type: 'datetime', isNullable: true },
      ],
      uniques: [new TableUnique({ name: 'uq_signing_keys_kid', columnNames: ['kid'] })],
    }));

    await queryRunner.createTable(new Table({
      name: 'token_revocations',
      columns: [
        { name: 'value', type: 'varchar', length: '191', isPrimary: true },
        { name: 'kind', type: 'varchar', length: '32', isPrimary: true },
        { name: 'revokedAt', type: 'datetime' },
        { name: 'expiresAt', type: 'datetime' },
      ],
    }));
    await queryRunner.createIndex('token_revocations', new TableIndex({ name: 'idx_token_revocations_expires', columnNames: ['expiresAt'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['token_revocations', 'signing_keys', 'oidc_payloads', 'resource_servers', 'oauth_clients', 'users']) {
      await queryRunner.dropTable(table);
    }
  }
}
