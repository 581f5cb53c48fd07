import { expect } from 'chai';
import { In, Like } from 'typeorm';
import { Agent } from '../../src/db/entities/agent.js';
import { ApiKey } from '../../src/db/entities/api_key.js';
import { ApiKeySession } from '../../src/db/entities/api_key_session.js';
import { OidcPayload } from '../../src/db/entities/oidc_payload.js';
import type { InsertOutcome, NewSession } from '../../src/exchange/sessions.js';
import { agentKey, expectError, fixture, login, type ExchangeFixture } from './support.js';

/**
 * Nothing is signed for a key unless the database says, at that moment, that the key and its agent
 * work (docs/api-keys.md). For a new session that read is the session's own insert: its row is
 * selected from the key's row (SessionStore.insertClaimed), so it lands only while the key works.
 * That SQL must judge every key state exactly as `KeyLiveness.assertCurrent` (which the other mints
 * ask) does, alone and when several new sessions share one statement.
 */
describe('exchange: a new session is inserted only while its key works, judged as KeyLiveness judges it (security)', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture(); });
  after(async () => { await fx.app.close(); });

  const store = () => fx.app.services.exchange.sessions;
  const repository = <T extends object>(entity: new () => T) => fx.app.services.database.dataSource.getRepository(entity);
  const minutes = (count: number): Date => new Date(Date.now() + count * 60_000);

  interface KeyCase {
    readonly name: string;
    /** Changes the key's or agent's row as another process would (nothing in this process hears of it). */
    readonly change?: (ids: { keyId: string; agentId: string; otherAgentId: string }) => Promise<unknown>;
    /** The session claims another agent than the key's. */
    readonly foreignAgent?: boolean;
    readonly works: boolean;
  }

  const CASES: readonly KeyCase[] = [
    { name: 'active', works: true },
    { name: 'expires later', change: ({ keyId }) => repository(ApiKey).update({ id: keyId }, { expiresAt: minutes(60) }), works: true },
    { name: 'rotated, in its grace', change: ({ keyId }) => repository(ApiKey).update({ id: keyId }, { graceUntil: minutes(60) }), works: true },
    { name: 'expired', change: ({ keyId }) => repository(ApiKey).update({ id: keyId }, { expiresAt: minutes(-1) }), works: false },
    { name: 'rotated, grace over', change: ({ keyId }) => repository(ApiKey).update({ id: keyId }, { graceUntil: minutes(-1) }), works: false },
    { name: 'revoked', change: ({ keyId }) => repository(ApiKey).update({ id: keyId }, { status: 'revoked' }), works: false },
    { name: 'agent revoked', change: ({ agentId }) => repository(Agent).update({ id: agentId }, { status: 'revoked' }), works: false },
    { name: 'another agent\'s session', foreignAgent: true, works: false },
    { name: 'no such key', change: ({ keyId }) => repository(ApiKey).delete({ id: keyId }), works: false },
  ];

  async function prepare(prefix: string): Promise<Array<KeyCase & { session: NewSession; keyId: string; agentId: string }>> {
    const other = await agentKey(fx.app);
    const prepared = [];
    for (const [index, keyCase] of CASES.entries()) {
      const { key, agent } = await agentKey(fx.app);
      await keyCase.change?.({ keyId: key.id, agentId: agent.id, otherAgentId: other.agent.id });
      const agentId = keyCase.foreignAgent ? other.agent.id : agent.id;
      const created = new Date();
      const session: NewSession = {
        id: `ses_${prefix}_${index}`, keyId: key.id, agentId, sessionId: `${prefix}-${index}`,
        sessionHash: `${prefix}${index}`.padEnd(64, '0'), createdAt: created, expiresAt: minutes(10),
      };
      prepared.push({ ...keyCase, session, keyId: key.id, agentId });
    }
    return prepared;
  }

  async function expectJudgedAlike(prepared: Awaited<ReturnType<typeof prepare>>, outcomes: InsertOutcome[]): Promise<void> {
    for (const [index, keyCase] of prepared.entries()) {
      expect(outcomes[index], keyCase.name).to.equal(keyCase.works ? 'inserted' : 'key_refused');
      const stored = await repository(ApiKeySession).findOneBy({ id: keyCase.session.id });
      expect(Boolean(stored), `${keyCase.name}: row written`).to.equal(keyCase.works);
      let livenessPassed = true;
      await fx.app.services.exchange.keyLiveness.assertCurrent(keyCase.keyId, keyCase.agentId).catch(() => { livenessPassed = false; });
      expect(livenessPassed, `${keyCase.name}: KeyLiveness.assertCurrent agrees`).to.equal(keyCase.works);
    }
  }

  it('each key state, every insert in one statement: the rows of working keys land, the others are left out', async () => {
    const prepared = await prepare('one');
    const now = new Date();
    const outcomes = await Promise.all(prepared.map(({ session }, index) => store().insertClaimed(session, `c-${index}`, minutes(1), now)));
    await expectJudgedAlike(prepared, outcomes);
  });

  it('each key state, one statement per insert: the same outcomes', async () => {
    const prepared = await prepare('each');
    const outcomes: InsertOutcome[] = [];
    for (const [index, { session }] of prepared.entries()) outcomes.push(await store().insertClaimed(session, `c-${index}`, minutes(1), new Date()));
    await expectJudgedAlike(prepared, outcomes);
  });

  it('the instant judged is the one given: a key expiring in a minute works now, not two minutes on', async () => {
    const { key, agent } = await agentKey(fx.app);
    await repository(ApiKey).update({ id: key.id }, { expiresAt: minutes(1) });
    const session = (name: string): NewSession => ({
      id: `ses_instant_${name}`, keyId: key.id, agentId: agent.id, sessionId: name, sessionHash: `instant${name}`.padEnd(64, '0'), createdAt: new Date(), expiresAt: minutes(10),
    });
    expect(await store().insertClaimed(session('later'), 'c-later', minutes(1), minutes(2))).to.equal('key_refused');
    expect(await store().insertClaimed(session('now'), 'c-now', minutes(1), new Date())).to.equal('inserted');
  });

  /** The grants and refresh tokens stored for an agent (their payloads name it as the account). */
  const grantRowsOf = (agentId: string) => repository(OidcPayload).countBy({ model: In(['Grant', 'RefreshToken']), payload: Like(`%"${agentId}"%`) });

  /** Counts the access tokens the engine signs (JWTs are "issued", events.ts) until `stop()`. */
  function countSigned(): { readonly count: number; stop(): void } {
    const provider = fx.app.services.oidc.host.provider;
    let signed = 0;
    const count = (): void => { signed += 1; };
    provider.on('access_token.issued', count);
    return { get count() { return signed; }, stop: () => { provider.off('access_token.issued', count); } };
  }

  it('POST /auth/login for a new session of a key revoked behind this process\'s back: 401 revoked_api_key, nothing signed, nothing written', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app);
    // The key is verified and cached as working by this process first, as on a busy server.
    expect((await login(fx.app, apiKey, { session_id: 'before' })).status).to.equal(200);
    const grantRowsBefore = await grantRowsOf(agent.id);
    expect(grantRowsBefore, 'the first session\'s grant and refresh token').to.equal(2);
    await repository(ApiKey).update({ id: key.id }, { status: 'revoked' });
    const signed = countSigned();
    try {
      expectError(await login(fx.app, apiKey, { session_id: 'after' }), 401, 'revoked_api_key');
    } finally {
      signed.stop();
    }
    expect(signed.count, 'access tokens signed').to.equal(0);
    const rows = await repository(ApiKeySession).findBy({ keyId: key.id });
    expect(rows.map((row) => row.sessionId)).to.deep.equal(['before']);
    expect(await grantRowsOf(agent.id), 'grants and refresh tokens').to.equal(grantRowsBefore);
  });

  it('POST /auth/login for a new session of a key that expired behind this process\'s back: 401 expired_api_key', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    expect((await login(fx.app, apiKey, { session_id: 'before' })).status).to.equal(200);
    await repository(ApiKey).update({ id: key.id }, { expiresAt: minutes(-1) });
    // The verifier's cached copy still says "works" (nothing told this process); the database does not.
    expectError(await login(fx.app, apiKey, { session_id: 'after' }), 401, 'expired_api_key');
  });
});
