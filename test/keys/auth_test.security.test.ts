import { expect } from 'chai';
import { AuditEvent } from '../../src/db/entities/audit_event.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey, expectError, secretTail } from './helpers.js';

describe('API keys: IP allow lists without TRUST_PROXY', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('lets a listed address in (exact IPv4, CIDR, IPv4-mapped IPv6 spelling)', async () => {
    for (const allow of [['127.0.0.1'], ['127.0.0.0/8'], ['10.0.0.0/8', '127.0.0.1/32'], ['::ffff:127.0.0.1'], ['::1', '127.0.0.1']]) {
      const created = await createAgentWithKey(app, { ipAllowList: allow });
      const res = await app.http().get('/auth/test').set('X-API-Key', created.apiKey);
      expect(res.status, `allow ${allow.join(',')}: ${JSON.stringify(res.body)}`).to.equal(200);
    }
  });

  it('keeps an unlisted address out, IPv6-only lists included', async () => {
    for (const allow of [['10.0.0.0/8'], ['127.0.0.2'], ['::1'], ['2001:db8::/32']]) {
      const created = await createAgentWithKey(app, { ipAllowList: allow });
      expectError(await app.http().get('/auth/test').set('X-API-Key', created.apiKey), 403, 'ip_not_allowed');
    }
  });

  it('ignores X-Forwarded-For when the proxy is not trusted', async () => {
    const inside = await createAgentWithKey(app, { ipAllowList: ['10.0.0.0/8'] });
    expectError(await app.http().get('/auth/test').set('X-API-Key', inside.apiKey).set('X-Forwarded-For', '10.1.2.3'), 403, 'ip_not_allowed');
    const local = await createAgentWithKey(app, { ipAllowList: ['127.0.0.1'] });
    await app.http().get('/auth/test').set('X-API-Key', local.apiKey).set('X-Forwarded-For', '203.0.113.9').expect(200);
  });
});

describe('API keys: IP allow lists with TRUST_PROXY=true', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp({ env: { TRUST_PROXY: 'true' } }); });
  after(async () => { await app.close(); });

  it('judges the forwarded client address: IPv4, IPv6 and CIDR ranges of both', async () => {
    const cases: Array<[string[], string, number]> = [
      [['10.0.0.0/8'], '10.1.2.3', 200],
      [['10.0.0.0/8'], '11.1.2.3', 403],
      [['203.0.113.7'], '203.0.113.7', 200],
      [['203.0.113.7'], '203.0.113.8', 403],
      [['2001:db8::/32'], '2001:db8:1::5', 200],
      [['2001:db8::/32'], '2001:db9::5', 403],
      [['2001:DB8:0:0::1'], '2001:db8::1', 200],
      [['2001:db8::1'], '10.0.0.1', 403],
      [['10.0.0.0/8', '2001:db8::/32'], '2001:db8::abcd', 200],
      [['10.0.0.0/8'], '::ffff:10.9.9.9', 200],
      [['10.0.0.0/8'], 'not-an-address', 403],
      // With one trusted proxy (TRUST_PROXY_HOPS=1) the right-most entry, appended by that proxy,
      // is the client; whatever the caller wrote further left is not believed.
      [['198.51.100.0/24'], '203.0.113.99, 198.51.100.10', 200],
      [['198.51.100.0/24'], '198.51.100.10, 10.0.0.1', 403],
    ];
    for (const [allow, forwarded, status] of cases) {
      const created = await createAgentWithKey(app, { ipAllowList: allow });
      const res = await app.http().get('/auth/test').set('X-API-Key', created.apiKey).set('X-Forwarded-For', forwarded);
      expect(res.status, `allow ${allow.join(',')} from ${forwarded}: ${JSON.stringify(res.body)}`).to.equal(status);
      if (status === 403) expect(res.body.error.code).to.equal('ip_not_allowed');
    }
  });

  it('lets a key without an allow list in from anywhere', async () => {
    const created = await createAgentWithKey(app);
    await app.http().get('/auth/test').set('X-API-Key', created.apiKey).set('X-Forwarded-For', '2001:db8::99').expect(200);
  });
});

describe('API keys: secrets stay out of logs and the audit trail', () => {
  let app: TestApp;
  // Twenty unknown keys from one address would trip the key-guessing guard (docs/reference.md §5) before the
  // audit rows this describes are written; that guard has its own tests.
  before(async () => { app = await startTestApp({ env: { RATE_LIMIT_KEY_FAILURES_PER_IP: '1000' } }); });
  after(async () => { await app.close(); });

  it('records failed verifications (rate-limited) without the presented key', async () => {
    const revoked = await createAgentWithKey(app);
    await app.services.keys.apiKeys.revoke(revoked.key.id, { actor: 'test' });
    const unknown = `ak_live_${'Z'.repeat(32)}`;
    for (let i = 0; i < 20; i += 1) await app.http().get('/auth/test').set('X-API-Key', unknown).expect(401);
    await app.http().get('/auth/test').set('X-API-Key', revoked.apiKey).expect(401);
    await app.http().get('/auth/test').set('Authorization', `Bearer ${revoked.apiKey}`).expect(401);
    await app.services.keys.failures.drain();

    const rows = await app.services.database.dataSource.getRepository(AuditEvent).find({ where: { action: 'key.verify_failed' } });
    const invalid = rows.filter((row) => row.details?.reason === 'invalid');
    expect(invalid, 'twenty identical failures from one address become one row').to.have.length(1);
    expect(invalid[0]).to.include({ actor: 'anonymous', targetId: null });
    expect(invalid[0]!.ip).to.match(/127\.0\.0\.1/);
    const revokedRows = rows.filter((row) => row.details?.reason === 'revoked');
    expect(revokedRows).to.have.length(1);
    expect(revokedRows[0]).to.include({ targetType: 'api_key', targetId: revoked.key.id });
    expect(revokedRows[0]!.details).to.include({ prefix: revoked.key.prefix });

    const everything = JSON.stringify(rows) + app.logs.join('\n');
    for (const secret of [unknown, secretTail(unknown), revoked.apiKey, secretTail(revoked.apiKey)]) expect(everything).not.to.include(secret);
  });

  it('never writes a presented key to the logs, valid or not', async () => {
    const created = await createAgentWithKey(app);
    await app.http().get('/auth/test').set('Authorization', `Bearer ${created.apiKey}`).expect(200);
    await app.http().post('/auth/test').send({ api_key: created.apiKey }).expect(200);
    await app.http().get('/auth/test').set('X-API-Key', `${created.apiKey.slice(0, -2)}zz`).expect(401);
    await app.http().get(`/auth/test?access_token_query=${created.apiKey}`).expect(401);
    const logs = app.logs.join('\n');
    expect(logs).to.include('"path":"/auth/test');
    expect(logs).not.to.include(secretTail(created.apiKey));
    expect(logs).not.to.include(created.apiKey.slice(-20));
  });
});
