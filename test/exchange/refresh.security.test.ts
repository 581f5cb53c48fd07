import { expect } from 'chai';
import type { Response } from 'supertest';
import type { TestApp } from '../support/app.js';
import { agentKey, API_KEY_CLIENT, API_KEY_TYPE, client, expectError, expectOAuthError, fixture, registerClient, TOKEN_EXCHANGE, type ExchangeFixture } from './support.js';

const ALLOWED = '10.1.2.3';
const OUTSIDE = '203.0.113.50';

function loginFrom(app: TestApp, apiKey: string, forwardedFor: string, body: Record<string, unknown> = {}): Promise<Response> {
  return app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('X-Forwarded-For', forwardedFor).send(body).then((res) => res);
}

function refreshFrom(app: TestApp, refreshToken: string, forwardedFor: string): Promise<Response> {
  return app.http().post('/auth/refresh').set('X-Forwarded-For', forwardedFor).send({ refresh_token: refreshToken }).then((res) => res);
}

function tokenEndpointRefreshFrom(app: TestApp, refreshToken: string, forwardedFor: string, auth?: { id: string; secret?: string }): Promise<Response> {
  const request = app.http().post('/oauth/token').type('form').set('X-Forwarded-For', forwardedFor);
  if (auth?.secret) request.auth(auth.id, auth.secret);
  return request.send({ grant_type: 'refresh_token', refresh_token: refreshToken, ...(auth ? {} : { client_id: API_KEY_CLIENT }) }).then((res) => res);
}

/**
 * Issue 12, medium 2: a refresh of an API-key session is a use of the key. Both doors
 * (`POST /auth/refresh` and `grant_type=refresh_token` at the token endpoint) re-check the key's
 * status and expiry (covered by refresh.error.test.ts), its IP allow list and its rate limit.
 */
describe('exchange: every refresh re-checks the API key (allow list, rate limit)', () => {
  describe('behind one trusted proxy (TRUST_PROXY=true)', () => {
    let fx: ExchangeFixture;
    before(async () => { fx = await fixture({ env: { TRUST_PROXY: 'true' } }); });
    after(async () => { await fx.app.close(); });

    it('refuses a refresh from outside the key\'s allow list at both doors, and leaves the refresh token usable', async () => {
      const { apiKey } = await agentKey(fx.app, { ipAllowList: [ALLOWED] });
      const first = await loginFrom(fx.app, apiKey, ALLOWED, { session_id: 'allow-list' });
      expect(first.status, first.text).to.equal(200);
      expectError(await loginFrom(fx.app, apiKey, OUTSIDE), 403, 'ip_not_allowed');

      expectError(await refreshFrom(fx.app, first.body.refresh_token, OUTSIDE), 403, 'ip_not_allowed');
      // A forged entry left of what the trusted proxy appended changes nothing.
      expectError(await refreshFrom(fx.app, first.body.refresh_token, `${ALLOWED}, ${OUTSIDE}`), 403, 'ip_not_allowed');
      const refused = await tokenEndpointRefreshFrom(fx.app, first.body.refresh_token, OUTSIDE);
      expectOAuthError(refused, 'invalid_grant', 400);
      expect(refused.body.error_description).to.match(/allow list/);

      // Nothing was consumed: the same refresh token still works from the allowed address, at either door.
      const fromInside = await refreshFrom(fx.app, first.body.refresh_token, ALLOWED);
      expect(fromInside.status, fromInside.text).to.equal(200);
      const again = await tokenEndpointRefreshFrom(fx.app, fromInside.body.refresh_token, ALLOWED);
      expect(again.status, again.text).to.equal(200);
      expectOAuthError(await tokenEndpointRefreshFrom(fx.app, again.body.refresh_token, OUTSIDE), 'invalid_grant', 400);
    });

    it('applies to another client\'s refresh of an API-key session too', async () => {
      const gateway = await registerClient(fx.app, { name: 'gateway', grantTypes: ['token_exchange', 'refresh_token'], scopes: ['read'] });
      const { apiKey } = await agentKey(fx.app, { ipAllowList: `${ALLOWED}/32` });
      const res = await fx.app.http().post('/oauth/token').type('form').auth(gateway.id, gateway.secret!).set('X-Forwarded-For', ALLOWED)
        .send({ grant_type: TOKEN_EXCHANGE, subject_token: apiKey, subject_token_type: API_KEY_TYPE });
      expect(res.status, res.text).to.equal(200);
      expectOAuthError(await tokenEndpointRefreshFrom(fx.app, res.body.refresh_token, OUTSIDE, gateway), 'invalid_grant', 400);
      const inside = await tokenEndpointRefreshFrom(fx.app, res.body.refresh_token, ALLOWED, gateway);
      expect(inside.status, inside.text).to.equal(200);
    });

    it('counts every refresh against the key\'s rate limit, once, and refuses over it at both doors', async () => {
      const { apiKey } = await agentKey(fx.app, { rateLimit: { perMinute: 3 } });
      const first = await loginFrom(fx.app, apiKey, ALLOWED, { session_id: 'limited' });
      expect(first.headers['x-ratelimit-remaining']).to.equal('2');
      const second = await refreshFrom(fx.app, first.body.refresh_token, ALLOWED);
      expect(second.status, second.text).to.equal(200);
      // Counted once (in front of the engine), not a second time inside it.
      expect(second.headers['x-ratelimit-limit']).to.equal('3');
      expect(second.headers['x-ratelimit-remaining']).to.equal('1');
      const third = await tokenEndpointRefreshFrom(fx.app, second.body.refresh_token, ALLOWED);
      expect(third.status, third.text).to.equal(200);
      expect(third.headers['x-ratelimit-remaining']).to.equal('0');

      const overAtRefresh = await refreshFrom(fx.app, third.body.refresh_token, ALLOWED);
      expectError(overAtRefresh, 429, 'rate_limit_exceeded');
      expect(Number(overAtRefresh.headers['retry-after'])).to.be.within(1, 60);
      const overAtTokenEndpoint = await tokenEndpointRefreshFrom(fx.app, third.body.refresh_token, ALLOWED);
      expectOAuthError(overAtTokenEndpoint, 'rate_limit_exceeded', 429);
      expect(Number(overAtTokenEndpoint.headers['retry-after'])).to.be.within(1, 60);
      // The key is over its limit for /auth/login as well: one budget per key.
      expectError(await loginFrom(fx.app, apiKey, ALLOWED, { session_id: 'limited' }), 429, 'rate_limit_exceeded');
    });

    it('openid-client refreshes from an allowed address', async () => {
      const { apiKey } = await agentKey(fx.app, { ipAllowList: [ALLOWED] });
      const first = await loginFrom(fx.app, apiKey, ALLOWED);
      const config = await client.discovery(new URL(fx.app.config.issuer), API_KEY_CLIENT, undefined, client.None(), {
        execute: [client.allowInsecureRequests],
        [client.customFetch]: (url, options) => fetch(url, { ...options, headers: { ...options.headers, 'x-forwarded-for': ALLOWED } }),
      });
      const refreshed = await client.refreshTokenGrant(config, first.body.refresh_token as string);
      expect(refreshed.refresh_token).to.be.a('string').and.not.equal(first.body.refresh_token);
    });
  });

  describe('behind two trusted proxies (TRUST_PROXY_HOPS=2)', () => {
    let fx: ExchangeFixture;
    before(async () => { fx = await fixture({ env: { TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' } }); });
    after(async () => { await fx.app.close(); });

    it('reads the caller two entries from the right, as everywhere else', async () => {
      const { apiKey } = await agentKey(fx.app, { ipAllowList: [ALLOWED] });
      const first = await loginFrom(fx.app, apiKey, `${ALLOWED}, 192.0.2.7`);
      expect(first.status, first.text).to.equal(200);
      expectError(await refreshFrom(fx.app, first.body.refresh_token, `${ALLOWED}, ${OUTSIDE}, 192.0.2.7`), 403, 'ip_not_allowed');
      expectOAuthError(await tokenEndpointRefreshFrom(fx.app, first.body.refresh_token, `${OUTSIDE}, 192.0.2.7`), 'invalid_grant', 400);
      const ok = await refreshFrom(fx.app, first.body.refresh_token, `${OUTSIDE}, ${ALLOWED}, 192.0.2.7`);
      expect(ok.status, ok.text).to.equal(200);
    });
  });
});
