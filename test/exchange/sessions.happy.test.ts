import { expect } from 'chai';
import { agentKey, fixture, introspect, login, type ExchangeFixture } from './support.js';

describe('exchange: /auth/sessions', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture({ env: { ALLOW_QUERY_API_KEY: 'true' } }); });
  after(async () => { await fx.app.close(); });

  it('lists the key\'s live sessions, newest first, without tokens', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app);
    await login(fx.app, apiKey, { session_id: 'first' });
    await login(fx.app, apiKey, { session_id: 'second', scope: 'read' });
    const other = await agentKey(fx.app);
    await login(fx.app, other.apiKey, { session_id: 'not-mine' });
    const res = await fx.app.http().get('/auth/sessions').set('X-API-Key', apiKey);
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body.sessions.map((s: { session_id: string }) => s.session_id).sort()).to.deep.equal(['first', 'second']);
    const second = res.body.sessions.find((s: { session_id: string }) => s.session_id === 'second');
    expect(second).to.include({ key_id: key.id, agent_id: agent.id, client_id: 'keyport-api-key', scope: 'read' });
    expect(second.id).to.match(/^ses_/);
    expect(Object.keys(second).sort()).to.deep.equal(['agent_id', 'client_id', 'created_at', 'expires_at', 'id', 'key_id', 'scope', 'session_id', 'token_expires_at']);
    expect(await fx.app.services.exchange.sessionDirectory.listSessions({ agentId: agent.id })).to.have.length(2);
    // The shape the dashboard's "Sessions" section reads.
    const forDashboard = await fx.app.services.exchange.sessionDirectory.listActiveForAgent(agent.id, { limit: 10 });
    expect(forDashboard.map((s) => s.sessionId).sort()).to.deep.equal(['first', 'second']);
    expect(forDashboard[0]!.keyId).to.equal(key.id);
    expect(forDashboard[0]!.createdAt).to.be.instanceOf(Date);
    expect(forDashboard[0]!.expiresAt!.getTime()).to.be.above(Date.now());
  });

  it('ends a session named with unicode or reserved characters in the path (URL-encoded)', async () => {
    const { apiKey } = await agentKey(fx.app);
    for (const id of ['Käse-🧀', 'a/b?c#d', '100%', 'default']) {
      const res = id === 'default' ? await login(fx.app, apiKey) : await login(fx.app, apiKey, { session_id: id });
      expect(res.status, res.text).to.equal(200);
      const ended = await fx.app.http().delete(`/auth/sessions/${encodeURIComponent(id)}`).set('X-API-Key', apiKey);
      expect(ended.status, `${id}: ${ended.text}`).to.equal(204);
      expect((await introspect(fx, res.body.access_token)).active).to.equal(false);
    }
  });

  it('takes the key from a header or (when allowed) the query', async () => {
    const { apiKey } = await agentKey(fx.app);
    await login(fx.app, apiKey, { session_id: 'q' });
    await login(fx.app, apiKey, { session_id: 'h' });
    expect((await fx.app.http().delete('/auth/sessions/q').query({ access_token_query: apiKey })).status).to.equal(204);
    expect((await fx.app.http().delete('/auth/sessions/h').set('Authorization', `Bearer ${apiKey}`)).status).to.equal(204);
    const viaQuery = await fx.app.http().post('/auth/login').query({ access_token_query: apiKey }).send({ session_id: 'via-query' });
    expect(viaQuery.status, viaQuery.text).to.equal(200);
  });

  it('writes session.ended to the audit trail, without the session ID itself', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    await login(fx.app, apiKey, { session_id: 'audited-secretish' });
    await fx.app.http().delete('/auth/sessions/audited-secretish').set('X-API-Key', apiKey).expect(204);
    const events = await fx.app.services.audit.list({ targetType: 'api_key_session' });
    const event = events.find((candidate) => (candidate.details as { key_id?: string } | null)?.key_id === key.id);
    expect(event).to.include({ action: 'session.ended', actor: `api-key:${key.id}` });
    expect(JSON.stringify(event)).not.to.include('audited-secretish');
  });
});
