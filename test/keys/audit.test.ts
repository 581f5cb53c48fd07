import { expect } from 'chai';
import { AuditEvent } from '../../src/db/entities/audit_event.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey, secretTail, TEST_ACTOR } from './helpers.js';

describe('API keys: the audit trail', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('records creation, rotation and revocation of agents and keys, as rows and log events, never with the key', async () => {
    const created = await createAgentWithKey(app, { scopes: 'read,write' }, { name: 'audited' });
    const second = await app.services.keys.apiKeys.create(created.agent.id, { env: 'test' }, { actor: 'user:usr_1', ip: '203.0.113.5' });
    const rotated = await app.services.keys.apiKeys.rotate(created.key.id, { grace: '1h' }, TEST_ACTOR);
    await app.services.keys.apiKeys.revoke(second.key.id, TEST_ACTOR);
    await app.services.keys.agents.revoke(created.agent.id, TEST_ACTOR);

    const rows = await app.services.database.dataSource.getRepository(AuditEvent).find({ order: { occurredAt: 'ASC' } });
    const byAction = (action: string) => rows.filter((row) => row.action === action);

    expect(byAction('agent.created')).to.have.length(1);
    expect(byAction('agent.created')[0]).to.include({ actor: 'test', targetType: 'agent', targetId: created.agent.id });
    const keyCreated = byAction('key.created');
    expect(keyCreated.map((row) => row.targetId)).to.have.members([created.key.id, second.key.id, rotated.key.id]);
    const bySomeone = keyCreated.find((row) => row.targetId === second.key.id)!;
    expect(bySomeone).to.include({ actor: 'user:usr_1', ip: '203.0.113.5', targetType: 'api_key' });
    expect(bySomeone.details).to.deep.include({ agent_id: created.agent.id, prefix: second.key.prefix, env: 'test', scopes: ['read'], access_type: 'integrations' });
    expect(keyCreated.find((row) => row.targetId === rotated.key.id)!.details).to.include({ rotated_from: created.key.id });

    const rotation = byAction('key.rotated');
    expect(rotation).to.have.length(1);
    expect(rotation[0]).to.include({ targetId: created.key.id });
    expect(rotation[0]!.details).to.include({ replaced_by: rotated.key.id, grace_seconds: 3600 });

    expect(byAction('key.revoked').map((row) => row.targetId)).to.deep.equal([second.key.id]);
    const agentRevoked = byAction('agent.revoked');
    expect(agentRevoked).to.have.length(1);
    expect(agentRevoked[0]!.details!.revoked_keys).to.have.members([created.key.id, rotated.key.id]);

    const logged = app.logs.filter((line) => line.includes('"message":"audit"'));
    for (const action of ['agent.created', 'key.created', 'key.rotated', 'key.revoked', 'agent.revoked']) {
      expect(logged.some((line) => line.includes(`"action":"${action}"`)), action).to.equal(true);
    }

    const everything = JSON.stringify(rows) + app.logs.join('\n');
    for (const apiKey of [created.apiKey, second.apiKey, rotated.apiKey]) {
      expect(everything).not.to.include(apiKey);
      expect(everything).not.to.include(secretTail(apiKey));
    }
  });
});
