import { expect } from 'chai';
import { renameAgentIds } from '../../migrations/1733300000000-agent-access-tokens.js';
import { Agent } from '../../src/db/entities/agent.js';
import { ApiKey } from '../../src/db/entities/api_key.js';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import { AuditEvent } from '../../src/db/entities/audit_event.js';
import { freePort } from '../support/app.js';
import { createScratchDatabase } from '../support/database.js';
import { startOidcApp } from '../oidc/support.js';
import { claimsOf, login } from '../exchange/support.js';
import { TEST_ACTOR } from './helpers.js';

const MIGRATION = 'AgentAccessTokens1733300000000';

/**
 * Migration 1733300000000 moves agent ids from `agt_…` to `agent_…` with every reference; tokens
 * issued before it (sub `agt_…`) stay valid until they expire (docs/api-keys.md).
 */
describe('migration: agent ids agt_… → agent_…', () => {
  it('rewrites agents, keys, sessions and audit rows; old tokens and refresh tokens keep working; the old id resolves', async function () {
    this.timeout(60_000);
    const database = await createScratchDatabase({ schema: 'empty' });
    const port = await freePort();
    const env = { PORT: String(port), ISSUER: `http://127.0.0.1:${port}` };
    try {
      // Before: an agent as an older Keyport wrote it (`agt_…`), with a session and tokens carrying that id.
      const before = await startOidcApp({ database, env });
      const created = await before.services.keys.agents.createWithKey({ name: 'old-timer', key: { scopes: 'read' } }, TEST_ACTOR);
      const newId = created.agent.id;
      const legacyId = newId.replace(/^agent_/, 'agt_');
      const { dataSource } = before.services.database;
      const runner = dataSource.createQueryRunner();
      await renameAgentIds(runner, 'agent_', 'agt_');
      before.services.keys.verifier.clearCache();
      expect((await dataSource.getRepository(Agent).find()).map((agent) => agent.id)).to.deep.equal([legacyId]);
      const session = await login(before, created.apiKey, { session_id: 'old' });
      expect(session.status, session.text).to.equal(200);
      expect(claimsOf(session.body.access_token).sub).to.equal(legacyId);
      await before.services.audit.record({ action: 'test.acted', actor: `agent:${legacyId}`, targetType: 'agent', targetId: legacyId, details: { agent_id: legacyId } });
      // The schema as it was (the running app needed the column until now), and the migration not yet applied.
      try {
        await runner.dropIndex('api_keys', 'uq_api_keys_agent_token');
        await runner.dropColumn('api_keys', 'agentTokenOf');
      } finally {
        await runner.release();
      }
      await dataSource.query('DELETE FROM keyport_migrations WHERE name = ?', [MIGRATION]);
      await before.close();

      // After: the migration runs at start.
      const after = await startOidcApp({ database, env });
      try {
        const repo = <T extends object>(entity: new () => T) => after.services.database.dataSource.getRepository(entity);
        expect((await repo(Agent).find()).map((agent) => agent.id)).to.deep.equal([newId]);
        expect((await repo(ApiKey).find()).map((key) => key.agentId)).to.deep.equal([newId]);
        expect((await repo(ApiKeySession).find()).map((row) => row.agentId)).to.deep.equal([newId]);
        const audit = JSON.stringify(await repo(AuditEvent).find());
        expect(audit).not.to.include(legacyId);
        expect(audit).to.include(`"actor":"agent:${newId}"`);

        // The token issued before (sub agt_…) is still good, and so is its refresh token.
        const test = await after.http().get('/auth/test').set('Authorization', `Bearer ${session.body.access_token}`);
        expect(test.status, test.text).to.equal(200);
        const refreshed = await after.http().post('/auth/refresh').send({ refresh_token: session.body.refresh_token });
        expect(refreshed.status, refreshed.text).to.equal(200);
        // New logins carry the new id.
        const fresh = await login(after, created.apiKey, { session_id: 'new' });
        expect(claimsOf(fresh.body.access_token).sub).to.equal(newId);

        // The old id still finds the agent (CLI and admin API, one release).
        expect((await after.services.keys.agents.get(legacyId)).id).to.equal(newId);

        // Revoking the agent ends the tokens with the old sub too.
        await after.services.keys.agents.revoke(legacyId, TEST_ACTOR);
        const refused = await after.http().get('/auth/test').set('Authorization', `Bearer ${session.body.access_token}`);
        expect(refused.status).to.equal(401);
      } finally {
        await after.close();
      }
    } finally {
      await database.drop();
    }
  });
});
