import { expect } from 'chai';
import { KEY_INVALIDATION_CHANNEL } from '../../src/keys/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { runKeyport } from '../support/cli.js';
import { updateKeyRow } from '../keys/helpers.js';
import { ACCESS_TOKEN_TYPE, agentKey, exchangeForm, expectError, fixture, introspect, login, TEST_ACTOR, type ExchangeFixture } from './support.js';

/**
 * Ending a session, revoking a key or an agent: every token issued from it turns inactive at once
 * (introspection, /auth/test), on every instance, refreshed and exchanged tokens included.
 */
describe('exchange: sessions and tokens end with their session, key and agent', () => {
  let fx: ExchangeFixture;
  let other: TestApp;
  before(async () => {
    fx = await fixture();
    other = await startTestApp({ database: fx.app.database, env: { ISSUER: fx.app.config.issuer } });
  });
  after(async () => {
    await other.close();
    await fx.app.close();
  });

  const authTest = (app: TestApp, token: string) => app.http().get('/auth/test').set('Authorization', `Bearer ${token}`);

  /** A session's family: the login token, a refreshed one and a narrower exchanged one. */
  async function family(apiKey: string, sessionId: string): Promise<{ tokens: string[]; refreshToken: string }> {
    const first = await login(fx.app, apiKey, { session_id: sessionId });
    expect(first.status, first.text).to.equal(200);
    const refreshed = await fx.app.http().post('/auth/refresh').send({ refresh_token: first.body.refresh_token });
    expect(refreshed.status, refreshed.text).to.equal(200);
    const narrower = await exchangeForm(fx.app, { subject_token: first.body.access_token, subject_token_type: ACCESS_TOKEN_TYPE, scope: 'read' });
    expect(narrower.status, narrower.text).to.equal(200);
    const tokens = [first.body.access_token, refreshed.body.access_token, narrower.body.access_token];
    for (const token of tokens) {
      expect((await introspect(fx, token)).active).to.equal(true);
      expect((await authTest(other, token)).status).to.equal(200);
    }
    return { tokens, refreshToken: refreshed.body.refresh_token };
  }

  async function expectDead(tokens: string[]): Promise<void> {
    for (const token of tokens) {
      expect(await introspect(fx, token)).to.deep.equal({ active: false });
      const res = await authTest(fx.app, token);
      expectError(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).to.equal('Bearer error="invalid_token"');
      expectError(await authTest(other, token), 401, 'invalid_token');
    }
  }

  it('DELETE /auth/sessions/:id ends that session only; the same session ID then starts afresh', async () => {
    const { apiKey } = await agentKey(fx.app);
    const ending = await family(apiKey, 'ending');
    const keeping = await family(apiKey, 'keeping');
    const res = await other.http().delete('/auth/sessions/ending').set('Authorization', `Bearer ${apiKey}`);
    expect(res.status, res.text).to.equal(204);
    await expectDead(ending.tokens);
    expect((await fx.app.http().post('/auth/refresh').send({ refresh_token: ending.refreshToken })).status).to.equal(401);
    for (const token of keeping.tokens) expect((await introspect(fx, token)).active).to.equal(true);

    const again = await login(fx.app, apiKey, { session_id: 'ending' });
    expect(again.status).to.equal(200);
    expect(ending.tokens).not.to.include(again.body.access_token);
    expect((await introspect(fx, again.body.access_token)).active).to.equal(true);
    expect((await authTest(other, again.body.access_token)).status).to.equal(200);
  });

  it('revoking a key (on one instance) ends every session and token from it, seen by the other instance at once', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const second = await agentKey(fx.app);
    const a = await family(apiKey, 'a');
    const b = await family(apiKey, 'b');
    const unrelated = await family(second.apiKey, 'a');
    await fx.app.services.keys.apiKeys.revoke(key.id, TEST_ACTOR);
    await expectDead([...a.tokens, ...b.tokens]);
    for (const token of unrelated.tokens) expect((await introspect(fx, token)).active).to.equal(true);
    expectError(await login(other, apiKey, { session_id: 'a' }), 401, 'revoked_api_key');
    expect(await other.services.exchange.sessionDirectory.listSessions({ keyId: key.id })).to.deep.equal([]);
  });

  it('revoking a key from the CLI (another process, no Redis) ends its tokens on the running servers', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const tokens = (await family(apiKey, 'cli')).tokens;
    const result = await runKeyport(['key:revoke', key.id, '--json'], fx.app.env);
    expect(result.code, result.stderr).to.equal(0);
    await expectDead(tokens);
  });

  it('revoking an agent ends the tokens of all its keys', async () => {
    const { apiKey, agent } = await agentKey(fx.app);
    const more = await fx.app.services.keys.apiKeys.create(agent.id, { name: 'second', scopes: ['read', 'write'] }, TEST_ACTOR);
    const tokens = [...(await family(apiKey, 'one')).tokens, ...(await family(more.apiKey, 'two')).tokens];
    await fx.app.services.keys.agents.revoke(agent.id, TEST_ACTOR);
    await expectDead(tokens);
  });

  it('rotation: the old key\'s tokens keep working during the grace period and stop when it ends', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    const before = await family(apiKey, 'rotating');
    const rotated = await fx.app.services.keys.apiKeys.rotate(key.id, { grace: '1h' }, TEST_ACTOR);
    const during = await login(fx.app, apiKey, { session_id: 'during' });
    expect(during.status).to.equal(200);
    fx.app.services.keys.verifier.clearCache();
    const shortened = await login(fx.app, apiKey, { session_id: 'rotating' });
    expect(shortened.body.access_token, 'a token that would outlive the grace period is replaced').not.to.equal(before.tokens[0]);
    expect(shortened.body.expires_in).to.be.at.most(3600);
    for (const token of [...before.tokens, during.body.access_token, shortened.body.access_token]) expect((await introspect(fx, token)).active).to.equal(true);
    const successor = await login(fx.app, rotated.apiKey, { session_id: 'rotating' });

    // The grace period ends: moved through the data, as the clock would; rotation tells caches the same way.
    await updateKeyRow(fx.app, key.id, { graceUntil: new Date(Date.now() - 1000) });
    for (const app of [fx.app, other]) await app.services.bus.publish(KEY_INVALIDATION_CHANNEL, JSON.stringify({ keyIds: [key.id], reason: 'key_rotated' }));
    fx.app.services.keys.verifier.clearCache();
    await expectDead([...before.tokens, during.body.access_token, shortened.body.access_token]);
    expect((await introspect(fx, successor.body.access_token)).active).to.equal(true);
    expectError(await login(fx.app, apiKey, { session_id: 'after' }), 401, 'revoked_api_key');
  });

  it('a key that expires takes its tokens with it', async () => {
    const { apiKey, key } = await agentKey(fx.app, { expiresIn: '30d' });
    const tokens = (await family(apiKey, 'expiring')).tokens;
    await updateKeyRow(fx.app, key.id, { expiresAt: new Date(Date.now() - 1000) });
    for (const app of [fx.app, other]) await app.services.bus.publish(KEY_INVALIDATION_CHANNEL, JSON.stringify({ keyIds: [key.id], reason: 'key_rotated' }));
    await expectDead(tokens);
  });
});
