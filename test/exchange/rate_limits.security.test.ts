import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { agentKey, exchangeForm, fixture, login, type ExchangeFixture } from './support.js';

/** docs/reference.md §5: every request authenticated with an API key counts against that key's limits. */
describe('exchange: per-key rate limits on /auth/login, /auth/test, /auth/sessions and RFC 8693', () => {
  let fx: ExchangeFixture;
  let app: TestApp;
  before(async () => {
    fx = await fixture({ env: { RATE_LIMIT_KEY_FAILURES_PER_IP: '3' } });
    app = fx.app;
  });
  after(async () => { await fx.app.close(); });

  function expectLimitHeaders(headers: Record<string, string>, limit: number, remaining: number): void {
    expect(headers['x-ratelimit-limit']).to.equal(String(limit));
    expect(headers['x-ratelimit-remaining']).to.equal(String(remaining));
    expect(Number(headers['x-ratelimit-reset'])).to.be.greaterThan(Date.now() / 1000);
    expect(headers['ratelimit-policy']).to.be.a('string').and.match(/;q=\d+;w=\d+/);
    expect(headers.ratelimit).to.be.a('string').and.match(/;r=\d+;t=\d+/);
  }

  it('counts /auth/login against the key and refuses with 429 once its burst is spent', async () => {
    const { apiKey } = await agentKey(app, { rateLimit: { burst: 2 } });
    const first = await login(app, apiKey, { session_id: 'a' });
    expect(first.status, first.text).to.equal(200);
    expectLimitHeaders(first.headers, 2, 1);
    const second = await login(app, apiKey, { session_id: 'a' });
    expect(second.status).to.equal(200);
    expectLimitHeaders(second.headers, 2, 0);
    const refused = await login(app, apiKey, { session_id: 'a' });
    expect(refused.status).to.equal(429);
    expect(refused.body.error.code).to.equal('rate_limit_exceeded');
    expect(refused.body.error.retry_after).to.be.a('number').within(1, 10);
    expect(refused.headers['retry-after']).to.equal(String(refused.body.error.retry_after));
    expect(refused.body).not.to.have.property('access_token');
  });

  it('reports the same numbers in /auth/test as in its headers, counting down', async () => {
    const { apiKey } = await agentKey(app, { rateLimit: { perMinute: 5, burst: 100 } });
    const first = await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
    expectLimitHeaders(first.headers, 5, 4);
    expect(first.body.rate_limit).to.deep.equal({ limit: 5, remaining: 4, reset: Number(first.headers['x-ratelimit-reset']) });
    const second = await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
    expect(second.body.rate_limit.remaining).to.equal(3);
  });

  it('counts /auth/sessions too, and keeps test keys on their own quota', async () => {
    const live = await agentKey(app, { env: 'live', rateLimit: { burst: 1 } });
    const test = await app.services.keys.apiKeys.create(live.agent.id, { env: 'test', rateLimit: { burst: 1 } }, { actor: 'test' });
    await app.http().get('/auth/sessions').set('X-API-Key', live.apiKey).expect(200);
    await app.http().get('/auth/sessions').set('X-API-Key', live.apiKey).expect(429);
    // The live key's spent burst does not touch the test key of the same agent, and vice versa.
    const testOk = await app.http().get('/auth/test').set('X-API-Key', test.apiKey).expect(200);
    expect(testOk.body.key.env).to.equal('test');
    await app.http().get('/auth/test').set('X-API-Key', test.apiKey).expect(429);
  });

  it('counts RFC 8693 exchanges against the key, answering 429 in the token endpoint format', async () => {
    const { apiKey } = await agentKey(app, { rateLimit: { burst: 1 } });
    const ok = await exchangeForm(app, { subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key' });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.headers['x-ratelimit-remaining']).to.equal('0');
    const refused = await exchangeForm(app, { subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key' });
    expect(refused.status).to.equal(429);
    expect(refused.body.error).to.equal('rate_limit_exceeded');
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 10);
  });

  it('records refused requests in the key\'s usage for the dashboard', async () => {
    const { apiKey, key } = await agentKey(app, { rateLimit: { burst: 1 } });
    await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
    await app.http().get('/auth/test').set('X-API-Key', apiKey).expect(429);
    await app.services.dashboard.usage.flush();
    const usage = await app.services.dashboard.usage.summary(key.id);
    expect(usage.thisHour.rejections).to.equal(1);
    expect(usage.thisHour.requests).to.be.at.least(1);
  });

  it('slows key guessing: an address with too many unknown keys is refused before its key is checked', async () => {
    const { apiKey } = await agentKey(app);
    // Every call here comes from the loopback address, so this test runs last in the file.
    for (let i = 0; i < 3; i += 1) {
      const res = await login(app, `ak_live_${'Q'.repeat(31)}${i}`);
      expect(res.status).to.equal(401);
      expect(res.body.error.code).to.equal('invalid_api_key');
    }
    const blocked = await login(app, apiKey);
    expect(blocked.status).to.equal(429);
    expect(blocked.body.error.code).to.equal('rate_limit_exceeded');
    const blockedGrant = await exchangeForm(app, { subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key' });
    expect(blockedGrant.status).to.equal(429);
  });
});
