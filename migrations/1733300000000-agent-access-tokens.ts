import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Agent access tokens (`agt_` + 32 characters, docs/reference.md §3) and agent ids that no longer
 * look like them.
 *
 * 1. `api_keys.agentTokenOf`: the agent id on an agent's current access token, null elsewhere,
 *    with a unique index: at most one current token per agent, enforced by the database too.
 * 2. Agent ids move from `agt_…` to `agent_…` (same 20 random characters), and every stored
 *    reference with them: keys, API-key sessions, the revocation registry's `agent` rows, and the
 *    audit trail (actor `agent:…`, target of type `agent`, `agent_id` in details). The agents table
 *    is copied rather than updated in place because its id is the target of a foreign key that
 *    neither database lets an UPDATE move. Nothing else used `agt_` before this migration.
 *
 * Engine rows (`oidc_payloads`: grants, refresh tokens) keep the old id as their account: tokens
 * issued before the migration carry `sub: agt_…` and stay valid until they expire; the account
 * lookup and the token checks map the old form to the new one (src/keys/agent_ids.ts).
 */
export class AgentAccessTokens1733300000000 implements MigrationInterface {
  name = 'AgentAccessTokens1733300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('api_keys', new TableColumn({ name: 'agentTokenOf', type: 'varchar', length: '40', isNullable: true }));
    await queryRunner.createIndex('api_keys', new TableIndex({ name: 'uq_api_keys_agent_token', columnNames: ['agentTokenOf'], isUnique: true }));
    await renameAgentIds(queryRunner, 'agt_', 'agent_');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Agent access tokens cannot be expressed by the older schema: they stop working.
    await queryRunner.query(`DELETE FROM ${queryRunner.connection.driver.escape('api_keys')} WHERE SUBSTR(${queryRunner.connection.driver.escape('prefix')}, 1, 4) = 'agt_'`);
    await renameAgentIds(queryRunner, 'agent_', 'agt_');
    await queryRunner.dropIndex('api_keys', 'uq_api_keys_agent_token');
    await queryRunner.dropColumn('api_keys', 'agentTokenOf');
  }
}

/**
 * Swaps the id prefix `from` for `to` on every agent and every reference. Set-based statements that
 * read the same on SQLite and MySQL (SUBSTR, REPLACE; no string concatenation, which differs).
 * REPLACE is safe on ids: the random part is alphanumeric, so the prefix is the only match.
 */
export async function renameAgentIds(queryRunner: QueryRunner, from: string, to: string): Promise<void> {
  const q = (name: string): string => queryRunner.connection.driver.escape(name);
  const starts = (column: string): string => `SUBSTR(${q(column)}, 1, ${from.length}) = ?`;
  const renamed = (column: string): string => `REPLACE(${q(column)}, ?, ?)`;
  const columns = ['name', 'contactEmail', 'status', 'createdAt', 'revokedAt'].map(q).join(', ');

  await queryRunner.query(
    `INSERT INTO ${q('agents')} (${q('id')}, ${columns}) SELECT ${renamed('id')}, ${columns} FROM ${q('agents')} WHERE ${starts('id')}`,
    [from, to, from],
  );
  for (const table of ['api_keys', 'api_key_sessions']) {
    await queryRunner.query(`UPDATE ${q(table)} SET ${q('agentId')} = ${renamed('agentId')} WHERE ${starts('agentId')}`, [from, to, from]);
  }
  await queryRunner.query(
    `UPDATE ${q('api_keys')} SET ${q('agentTokenOf')} = ${renamed('agentTokenOf')} WHERE ${q('agentTokenOf')} IS NOT NULL AND ${starts('agentTokenOf')}`,
    [from, to, from],
  );
  await queryRunner.query(`UPDATE ${q('token_revocations')} SET ${q('value')} = ${renamed('value')} WHERE ${q('kind')} = 'agent' AND ${starts('value')}`, [from, to, from]);
  await queryRunner.query(`UPDATE ${q('audit_events')} SET ${q('targetId')} = ${renamed('targetId')} WHERE ${q('targetType')} = 'agent' AND ${starts('targetId')}`, [from, to, from]);
  await queryRunner.query(`UPDATE ${q('audit_events')} SET ${q('actor')} = REPLACE(${q('actor')}, ?, ?) WHERE SUBSTR(${q('actor')}, 1, ?) = ?`, [`agent:${from}`, `agent:${to}`, `agent:${from}`.length, `agent:${from}`]);
  // simple-json details are JSON.stringify output: no spaces, so the field and its value read exactly so.
  const field = (prefix: string): string => `"agent_id":"${prefix}`;
  await queryRunner.query(`UPDATE ${q('audit_events')} SET ${q('details')} = REPLACE(${q('details')}, ?, ?) WHERE INSTR(${q('details')}, ?) > 0`, [field(from), field(to), field(from)]);
  await queryRunner.query(`DELETE FROM ${q('agents')} WHERE ${starts('id')}`, [from]);
}
