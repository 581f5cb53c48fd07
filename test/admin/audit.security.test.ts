import { expect } from 'chai';
import { AuditEvent } from '../../src/db/entities/audit_event.js';
import type { TestApp } from '../support/app.js';
import { startOidcApp } from '../oidc/support.js';
import { adminCaller, dumpDatabase, secretTail, type AdminSession } from './support.js';

describe('admin API: the audit trail and secrets', () => {
  let app: TestApp;
  let admin: AdminSession;
  const secrets: string[] = [];
  let agentId: string;
  let keyIds: { first: string; second: string; successor: string };
  let clientId: string;

  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
    secrets.push(admin.token, admin.client.secret);

    const agent = (await admin.post('/admin/agents', { name: 'audited', scopes: ['read', 'write'] }).expect(201)).body;
    const second = (await admin.post('/admin/keys', { agent_id: agent.agent.id, env: 'test' }).expect(201)).body;
    const rotated = (await admin.post(`/admin/keys/${agent.key.id}/rotate`, { grace: '1h' }).expect(201)).body;
    await admin.post(`/admin/keys/${second.key.id}/revoke`).expect(200);
    await admin.post(`/admin/agents/${agent.agent.id}/revoke`).expect(200);
    const client = (await admin.post('/admin/clients', { name: 'audited-client', grant_types: ['client_credentials'] }).expect(201)).body;
    const rotatedClient = (await admin.post(`/admin/clients/${client.client_id}/rotate`).expect(200)).body;
    await admin.delete(`/admin/clients/${client.client_id}`).expect(200);
    // A failed attempt with a token-shaped value must not be logged either.
    await app.http().get('/admin/agents').set('Authorization', 'Bearer not-a-real-token-but-secret-looking-0123456789').expect(401);

    secrets.push(agent.api_key, second.api_key, rotated.api_key, client.client_secret, rotatedClient.client_secret, 'not-a-real-token-but-secret-looking-0123456789');
    agentId = agent.agent.id;
    keyIds = { first: agent.key.id, second: second.key.id, successor: rotated.key.id };
    clientId = client.client_id;
  });
  after(async () => { await app.close(); });

  it('records every change with the calling client as the actor and the caller\'s address', async () => {
    const rows = await app.services.database.dataSource.getRepository(AuditEvent).find();
    const expected: Array<[action: string, targetId: string]> = [
      ['agent.created', agentId],
      ['key.created', keyIds.first],
      ['key.created', keyIds.second],
      ['key.created', keyIds.successor],
      ['key.rotated', keyIds.first],
      ['key.revoked', keyIds.second],
      ['agent.revoked', agentId],
      ['client.created', clientId],
      ['client.secret_rotated', clientId],
      ['client.deleted', clientId],
    ];
    for (const [action, targetId] of expected) {
      const row = rows.find((candidate) => candidate.action === action && candidate.targetId === targetId);
      expect(row, `${action} ${targetId}`).to.not.equal(undefined);
      expect(row!.actor, action).to.equal(`client:${admin.client.id}`);
      expect(row!.ip, action).to.match(/^(::ffff:)?127\.0\.0\.1$/);
    }
    const rotation = rows.find((row) => row.action === 'key.rotated')!;
    expect(rotation.details).to.include({ replaced_by: keyIds.successor, grace_seconds: 3600 });
  });

  it('never puts a secret in the audit trail, the logs or the database', async () => {
    const rows = JSON.stringify(await app.services.database.dataSource.getRepository(AuditEvent).find());
    const logs = app.logs.join('\n');
    const database = await dumpDatabase(app);
    expect(logs).to.include('"action":"client.secret_rotated"');
    for (const secret of secrets) {
      const tail = secret.startsWith('ak_') ? secretTail(secret) : secret.slice(-24);
      for (const [where, text] of [['audit rows', rows], ['logs', logs], ['database', database]] as const) {
        expect(text.includes(tail), `${where} hold a secret`).to.equal(false);
      }
    }
  });
});
