import { expect } from 'chai';
import type { Response } from 'supertest';
import { ApiKey } from '../../src/db/entities/api_key.js';
import type { KeyOptionsInput } from '../../src/keys/index.js';
import type { CreatedAgent } from '../../src/keys/agents.js';
import type { TestApp } from '../support/app.js';

export const TEST_ACTOR = { actor: 'test' } as const;

let counter = 0;

/** An agent with one key, made through the same service the CLI uses. */
export async function createAgentWithKey(app: TestApp, key: KeyOptionsInput = {}, agent: { name?: string; contactEmail?: string } = {}): Promise<CreatedAgent> {
  counter += 1;
  return app.services.keys.agents.createWithKey({ name: agent.name ?? `agent-${counter}`, contactEmail: agent.contactEmail, key }, TEST_ACTOR);
}

/** docs/reference.md §4 error body with this status and code, and nothing internal. */
export function expectError(res: Response, status: number, code: string): void {
  expect(res.status, `status for ${code}: ${JSON.stringify(res.body)}`).to.equal(status);
  expect(res.body).to.have.nested.property('error.code', code);
  expect(res.body.error.message).to.be.a('string').and.not.empty;
  expect(res.body.error.request_id).to.equal(res.headers['x-request-id']);
  expect(JSON.stringify(res.body)).not.to.match(/\bat .*\.js:\d+|node_modules|stack/);
}

/** Direct row edits, for moving a key through time without sleeping. */
export async function updateKeyRow(app: TestApp, keyId: string, changes: Partial<ApiKey>): Promise<void> {
  await app.services.database.dataSource.getRepository(ApiKey).update({ id: keyId }, { ...changes, updatedAt: new Date() });
}

/** Every cell of every row of every table, as text: to prove a secret is nowhere in the database. */
export async function dumpDatabase(app: TestApp): Promise<string> {
  const { dataSource } = app.services.database;
  const tables = dataSource.options.type === 'better-sqlite3'
    ? (await dataSource.query("SELECT name FROM sqlite_master WHERE type = 'table'") as Array<{ name: string }>).map((row) => row.name)
    : (await dataSource.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()') as Array<{ name: string }>).map((row) => row.name);
  const parts: string[] = [];
  for (const table of tables) {
    const quoted = dataSource.options.type === 'better-sqlite3' ? `"${table}"` : `\`${table}\``;
    parts.push(JSON.stringify(await dataSource.query(`SELECT * FROM ${quoted}`)));
  }
  return parts.join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The random part after the visible 12-character prefix. */
export function secretTail(apiKey: string): string {
  return apiKey.slice(12);
}
