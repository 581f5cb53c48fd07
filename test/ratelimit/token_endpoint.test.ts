import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import supertest from 'supertest';
import { Metrics } from '../../src/lib/metrics.js';
import { RateLimits } from '../../src/ratelimit/service.js';
import { clientTokenLimit, enforceOAuthRateLimit, limitTokenRequestsPerClient } from '../../src/ratelimit/token_endpoint.js';
import { memoryLogger } from './support.js';

const SECRET = 's'.repeat(48);

function client(id: string) {
  return { client_id: id, client_secret: SECRET, grant_types: ['client_credentials', 'urn:test:api-key'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' as const };
}

describe('per-client limits at the token endpoint (oidc-provider)', function () {
  this.slow(3000);
  let server: Server;
  let url: string;
  let metrics: Metrics;

  before(async () => {
    const { logger } = memoryLogger();
    metrics = new Metrics({ processMetrics: false });
    const rateLimits = new RateLimits({
      config: { rateLimit: { perMinute: 60, perHour: 1000, burst: 20 }, rateLimitPolicies: { disabled: false, clientPerMinute: 3, loginPerIpPerMinute: 30, keyFailuresPerIpPerMinute: 20, publicIntrospectionPerIpPerMinute: 60 } },
      logger,
    });
    // A bare provider: what the OIDC feature configures is not needed to show the hook works.
    const provider = new Provider('http://127.0.0.1', {
      clients: [client('svc-a'), client('svc-b'), client('keyport-api-key')],
      features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
      routes: { token: '/oauth/token' },
    });
    limitTokenRequestsPerClient(provider, { rateLimits, metrics }, clientTokenLimit({ rateLimits, metrics }, (id) => id === 'keyport-api-key'));
    // How the API-key exchange grant counts per key inside the provider.
    provider.registerGrantType('urn:test:api-key', async function apiKeyGrant(ctx) {
      const decision = await rateLimits.consumeApiKey({ keyId: String(ctx.oidc.params!.key_id), env: 'live', overrides: { burst: 2 } });
      enforceOAuthRateLimit(ctx, decision, metrics);
      ctx.body = { access_token: 'minted', token_type: 'Bearer' };
    }, ['key_id']);
    server = createServer(provider.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => { await new Promise((resolve) => server.close(resolve)); });

  function token(clientId: string, secret = SECRET) {
    return supertest(url).post('/oauth/token').auth(clientId, secret).type('form').send({ grant_type: 'client_credentials' });
  }

  it('counts authenticated token requests, shows the numbers, and refuses past the limit before minting', async () => {
    const ok = [];
    for (let i = 0; i < 3; i += 1) ok.push(await token('svc-a').expect(200));
    expect(ok.map((res) => res.headers['x-ratelimit-remaining'])).to.deep.equal(['2', '1', '0']);
    expect(ok[0]!.body).to.have.property('access_token');
    expect(ok[0]!.headers['ratelimit-policy']).to.equal('"client";q=3;w=60');
    const refused = await token('svc-a');
    expect(refused.status).to.equal(429);
    expect(refused.body).to.deep.include({ error: 'rate_limit_exceeded' });
    expect(refused.body.error_description).to.match(/retry in \d+ s/);
    expect(refused.body).not.to.have.property('access_token');
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 60);
    expect(refused.headers['x-ratelimit-remaining']).to.equal('0');
    expect(await metrics.registry.getSingleMetricAsString('keyport_rate_limit_rejections_total')).to.match(/limiter="client"\} 1/);
  });

  it('limits each client on its own', async () => {
    await token('svc-b').expect(200);
  });

  it('does not let failed client authentication use up a client\'s quota', async () => {
    for (let i = 0; i < 5; i += 1) await token('svc-b', 'wrong-secret').expect(401);
    const res = await token('svc-b').expect(200);
    expect(res.headers['x-ratelimit-remaining']).to.equal('1');
  });

  it('refuses a grant over its API key\'s limit with 429 in the OAuth error format', async () => {
    const grant = () => supertest(url).post('/oauth/token').auth('keyport-api-key', SECRET).type('form').send({ grant_type: 'urn:test:api-key', key_id: 'key_x' });
    const first = await grant().expect(200);
    expect(first.headers['ratelimit-policy']).to.equal('"burst";q=2;w=10, "minute";q=60;w=60, "hour";q=1000;w=3600');
    expect(first.headers['x-ratelimit-remaining']).to.equal('1');
    await grant().expect(200);
    const refused = await grant();
    expect(refused.status).to.equal(429);
    expect(refused.body).to.deep.include({ error: 'rate_limit_exceeded' });
    expect(refused.headers['retry-after']).to.match(/^(9|10)$/);
    expect(refused.headers['x-ratelimit-limit']).to.equal('2');
  });

  it('leaves exempt clients (the API-key client, limited per key) alone', async () => {
    for (let i = 0; i < 5; i += 1) {
      const res = await token('keyport-api-key').expect(200);
      expect(res.headers['x-ratelimit-limit']).to.equal(undefined);
    }
  });
});
