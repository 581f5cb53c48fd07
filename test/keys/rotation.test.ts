import { expect } from 'chai';
import { KeyportError } from '../../src/lib/errors.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey, expectError, sleep, TEST_ACTOR } from './helpers.js';

describe('API keys: rotation', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp({ env: { TRUST_PROXY: 'true' } }); });
  after(async () => { await app.close(); });

  const check = (apiKey: string) => app.http().get('/auth/test').set('X-API-Key', apiKey).set('X-Forwarded-For', '10.0.0.5');

  it('mints a successor with the same settings; both work during the grace period, then only the new one', async () => {
    const old = await createAgentWithKey(app, {
      name: 'deploy', scopes: 'read,write,delete', env: 'test', expiresIn: '30d', ipAllowList: ['10.0.0.0/8'], rateLimit: { perHour: 500 }, contactEmail: 'k@example.com',
    });
    await check(old.apiKey).expect(200); // cached before the rotation
    const rotated = await app.services.keys.apiKeys.rotate(old.key.id, { grace: 2 }, TEST_ACTOR);

    expect(rotated.apiKey).to.match(/^ak_test_[A-Za-z0-9]{32}$/).and.not.equal(old.apiKey);
    expect(rotated.key.id).not.to.equal(old.key.id);
    expect(rotated.key).to.deep.include({ agentId: old.agent.id, name: 'deploy', accessType: 'integrations', env: 'test', contactEmail: 'k@example.com', status: 'active' });
    expect(rotated.key.scopes).to.deep.equal(['read', 'write', 'delete']);
    expect(rotated.key.ipAllowList).to.deep.equal(['10.0.0.0/8']);
    expect(rotated.key.rateLimit).to.deep.equal({ perMinute: null, perHour: 500, burst: null });
    // Same lifetime, counted from the rotation.
    expect(rotated.key.expiresAt!.getTime() - rotated.key.createdAt.getTime()).to.be.closeTo(30 * 86_400_000, 2000);
    expect(rotated.previous).to.deep.include({ id: old.key.id, replacedBy: rotated.key.id, status: 'active' });

    const both = await Promise.all([check(old.apiKey), check(rotated.apiKey)]);
    expect(both.map((res) => res.status)).to.deep.equal([200, 200]);
    expect(both[1]!.body.key.id).to.equal(rotated.key.id);

    await sleep(rotated.previous.graceUntil!.getTime() - Date.now() + 100);
    expectError(await check(old.apiKey), 401, 'revoked_api_key');
    await check(rotated.apiKey).expect(200);
    expect((await app.services.keys.apiKeys.get(old.key.id)).status).to.equal('active'); // stored; effective status below
    const listed = await app.services.keys.apiKeys.list({ agentId: old.agent.id });
    expect(listed.map((key) => key.id)).to.have.members([old.key.id, rotated.key.id]);
  });

  it('defaults to a 24-hour grace period', async () => {
    const old = await createAgentWithKey(app);
    const before = Date.now();
    const rotated = await app.services.keys.apiKeys.rotate(old.key.id, {}, TEST_ACTOR);
    expect(rotated.previous.graceUntil!.getTime()).to.be.within(before + 86_400_000 - 2000, Date.now() + 86_400_000 + 1000);
    await check(old.apiKey).expect(200);
  });

  it('with grace 0 revokes the old key at once', async () => {
    const old = await createAgentWithKey(app);
    await check(old.apiKey).expect(200);
    const rotated = await app.services.keys.apiKeys.rotate(old.key.id, { grace: '0' }, TEST_ACTOR);
    expect(rotated.previous.status).to.equal('revoked');
    expectError(await check(old.apiKey), 401, 'revoked_api_key');
    await check(rotated.apiKey).expect(200);
  });

  it('refuses to rotate a rotated, revoked or unknown key, and bad grace periods', async () => {
    const old = await createAgentWithKey(app);
    const rotated = await app.services.keys.apiKeys.rotate(old.key.id, { grace: '1h' }, TEST_ACTOR);
    const attempts: Array<[() => Promise<unknown>, string]> = [
      [() => app.services.keys.apiKeys.rotate(old.key.id, {}, TEST_ACTOR), 'conflict'],
      [() => app.services.keys.apiKeys.rotate(rotated.key.id, { grace: 'soon' }, TEST_ACTOR), 'invalid_request'],
      [() => app.services.keys.apiKeys.rotate(rotated.key.id, { grace: '31d' }, TEST_ACTOR), 'invalid_request'],
      [() => app.services.keys.apiKeys.rotate('key_unknown', {}, TEST_ACTOR), 'not_found'],
    ];
    for (const [attempt, code] of attempts) {
      const error = await attempt().then(() => undefined, (err: unknown) => err);
      expect(error).to.be.instanceOf(KeyportError);
      expect((error as KeyportError).code).to.equal(code);
    }
    await app.services.keys.apiKeys.revoke(rotated.key.id, TEST_ACTOR);
    const error = await app.services.keys.apiKeys.rotate(rotated.key.id, {}, TEST_ACTOR).then(() => undefined, (err: unknown) => err);
    expect((error as KeyportError).code).to.equal('conflict');
  });

  it('lets only one of two concurrent rotations win', async () => {
    const old = await createAgentWithKey(app);
    const results = await Promise.allSettled([
      app.services.keys.apiKeys.rotate(old.key.id, {}, TEST_ACTOR),
      app.services.keys.apiKeys.rotate(old.key.id, {}, TEST_ACTOR),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(1);
    const rejected = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as KeyportError).code).to.equal('conflict');
    expect(await app.services.keys.apiKeys.list({ agentId: old.agent.id })).to.have.length(2);
  });
});
