import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * `keyport_health`: one row that `/readyz` rewrites (at most once a second) to learn whether the
 * database takes writes: a full disk or a read-only server answers reads but refuses writes, and
 * an instance in that state must not call itself ready (src/db/health.ts).
 */
export class ReadinessProbe1733100000000 implements MigrationInterface {
  name = 'ReadinessProbe1733100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(new Table({
      name: 'keyport_health',
      columns: [
        { name: 'id', type: 'varchar', length: '40', isPrimary: true },
        // Epoch milliseconds: a plain number binds the same way on both drivers.
        { name: 'checkedAt', type: 'bigint' },
      ],
    }));
    await queryRunner.query('INSERT INTO keyport_health (id, checkedAt) VALUES (?, ?)', ['readiness', Date.now()]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('keyport_health');
  }
}
