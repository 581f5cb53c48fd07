import type { MigrationInterface, QueryRunner } from 'typeorm';
import { TIME_ORDERED_PREFIX_LENGTH } from '../src/lib/ids.js';
import { CLEAR_ID_MODELS, type TokenIds } from '../src/oidc/token_ids.js';

/** Rows converted per statement round. */
const BATCH = 500;
/**
 * A keyed hash is 64 hex characters, 74 behind a time-ordered id's time part (TokenIds.rowId);
 * the engine's ids are 21 or 43 characters, Keyport's time-ordered ones 26 or 69: never either.
 */
const ROW_ID_LENGTHS = [64, 64 + TIME_ORDERED_PREFIX_LENGTH];

/**
 * `oidc_payloads` rows are stored under a keyed hash of the engine's id, without the id in the
 * payload (src/oidc/adapter.ts): a copy of the database then yields no working refresh token,
 * opaque access token or authorization code. This converts the rows written before, in batches
 * (rows already converted have 64-character ids and are not selected again), on SQLite and MySQL
 * alike. Sessions and device codes keep their ids (CLEAR_ID_MODELS).
 *
 * The hash is keyed with KEYPORT_SECRET, so the migration needs it (`tokenIds`); without it the
 * migration refuses to run when there is anything to convert. Instances of an older version that
 * keep writing while a newer one migrates write clear rows the newer one cannot find: their tokens
 * stop working (their holders sign in or exchange their key again).
 *
 * Not reversible: `down` deletes the converted rows (grants, tokens, codes, interactions end).
 */
export function hashedTokenIds(tokenIds: TokenIds | undefined): new () => MigrationInterface {
  return class HashedTokenIds1733000000000 implements MigrationInterface {
    name = 'HashedTokenIds1733000000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      const q = (name: string): string => queryRunner.connection.driver.escape(name);
      const clear = [...CLEAR_ID_MODELS];
      const notClear = `${q('model')} NOT IN (${clear.map(() => '?').join(', ')})`;
      for (;;) {
        const rows = await queryRunner.query(
          `SELECT ${q('model')}, ${q('id')}, ${q('payload')} FROM ${q('oidc_payloads')} WHERE ${notClear} AND LENGTH(${q('id')}) NOT IN (${ROW_ID_LENGTHS.join(', ')}) ORDER BY ${q('model')}, ${q('id')} LIMIT ${BATCH}`,
          clear,
        ) as Array<{ model: string; id: string; payload: string }>;
        if (rows.length === 0) return;
        if (!tokenIds) throw new Error('migration HashedTokenIds1733000000000 needs KEYPORT_SECRET to convert existing rows');
        for (const row of rows) {
          let payload = row.payload;
          try {
            const parsed = JSON.parse(row.payload) as Record<string, unknown>;
            delete parsed.jti;
            payload = JSON.stringify(parsed);
          } catch {
            // Not JSON: not something the engine could read either; the row is converted as it is.
          }
          await queryRunner.query(
            `UPDATE ${q('oidc_payloads')} SET ${q('id')} = ?, ${q('payload')} = ? WHERE ${q('model')} = ? AND ${q('id')} = ?`,
            [tokenIds.rowId(row.id), payload, row.model, row.id],
          );
        }
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const q = (name: string): string => queryRunner.connection.driver.escape(name);
      const clear = [...CLEAR_ID_MODELS];
      await queryRunner.query(`DELETE FROM ${q('oidc_payloads')} WHERE ${q('model')} NOT IN (${clear.map(() => '?').join(', ')})`, clear);
    }
  };
}
