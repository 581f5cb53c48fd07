import { expect } from 'chai';
import { KEY_INVALIDATION_CHANNEL, type KeyRevokedEvent } from '../../src/keys/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { runKeyport } from '../support/cli.js';
import { createAgentWithKey, expectError, TEST_ACTOR } from './helpers.js';

describe('API keys: revocation takes effect at once', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  const check = (apiKey: string) => app.http().get('/auth/test').set('X-API-Key', apiKey);

  it('revokes a cached key for the very next request, tells the bus and the hook', async () => {
    const created = await createAgentWithKey(app);
    await check(created.apiKey).expect(200);
    const events: KeyRevokedEvent[] = [];
    const messages: string[] = [];
    const stopHook = app.services.keys.onRevoked((event) => { events.push(event); });
    const stopBus = app.services.bus.subscribe(KEY_INVALIDATION_CHANNEL, (message) => messages.push(message));
    try {
      const result = await app.services.keys.apiKeys.revoke(created.key.id, TEST_ACTOR);
      expect(result.alreadyRevoked).to.equal(false);
      expect(result.key.status).to.equal('revoked');
      expect(result.key.revokedAt).to.be.instanceOf(Date);
      expectError(await check(created.apiKey), 401, 'revoked_api_key');
      expect(events).to.deep.equal([{ keyIds: [created.key.id], agentId: created.agent.id, reason: 'key_revoked', actor: 'test' }]);
      expect(messages.map((message) => JSON.parse(message))).to.deep.equal([{ keyIds: [created.key.id], agentId: created.agent.id, reason: 'key_revoked' }]);
      expect(messages.join('')).not.to.include(created.apiKey);
      const again = await app.services.keys.apiKeys.revoke(created.key.id, TEST_ACTOR);
      expect(again.alreadyRevoked).to.equal(true);
      expect(events).to.have.length(1);
    } finally {
      stopHook();
      stopBus();
    }
  });

  it('revokes an agent with all its keys, including one in its rotation grace period', async () => {
    const created = await createAgentWithKey(app);
    const second = await app.services.keys.apiKeys.create(created.agent.id, { name: 'second' }, TEST_ACTOR);
    const rotated = await app.services.keys.apiKeys.rotate(second.key.id, {}, TEST_ACTOR);
    for (const apiKey of [created.apiKey, second.apiKey, rotated.apiKey]) await check(apiKey).expect(200);
    const events: KeyRevokedEvent[] = [];
    const stop = app.services.keys.onRevoked((event) => { events.push(event); });
    try {
      const result = await app.services.keys.agents.revoke(created.agent.id, TEST_ACTOR);
      expect(result.agent.status).to.equal('revoked');
      expect(result.revokedKeyIds).to.have.members([created.key.id, second.key.id, rotated.key.id]);
      for (const apiKey of [created.apiKey, second.apiKey, rotated.apiKey]) expectError(await check(apiKey), 401, 'revoked_api_key');
      expect(events).to.have.length(1);
      expect(events[0]).to.include({ agentId: created.agent.id, reason: 'agent_revoked' });
      expect((await app.services.keys.agents.revoke(created.agent.id, TEST_ACTOR)).alreadyRevoked).to.equal(true);
    } finally {
      stop();
    }
  });

  it('refuses a cached key on the next request after another process (the CLI) revoked it or its agent', async () => {
    const created = await createAgentWithKey(app);
    await check(created.apiKey).expect(200);
    const cli = await runKeyport(['key:revoke', created.key.id], app.env);
    expect(cli.code, cli.stderr).to.equal(0);
    expectError(await check(created.apiKey), 401, 'revoked_api_key');

    const other = await createAgentWithKey(app);
    await check(other.apiKey).expect(200);
    const agentCli = await runKeyport(['agent:revoke', '--id', other.agent.id], app.env);
    expect(agentCli.code, agentCli.stderr).to.equal(0);
    expectError(await check(other.apiKey), 401, 'revoked_api_key');
  });

  it('reaches a second instance on the same database', async () => {
    const peer = await startTestApp({ database: app.database });
    try {
      const created = await createAgentWithKey(app);
      await peer.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
      await app.services.keys.apiKeys.revoke(created.key.id, TEST_ACTOR);
      // The peer has its own (in-process) bus: the change sweep is what tells it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expectError(await peer.http().get('/auth/test').set('X-API-Key', created.apiKey), 401, 'revoked_api_key');
    } finally {
      await peer.close();
    }
  });
});
