import { expect } from 'chai';
import { loadConfig } from '../../src/config/config.js';
import { clientBasedCors, isCorsPath, isOriginAllowed } from '../../src/http/edge/cors.js';
import { enforceRateLimit } from '../../src/ratelimit/koa.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { serveWithRoutes, type MountedApp } from '../ratelimit/support.js';

const ALLOWED = 'https://app.example.com';
const LOCAL = 'http://localhost:5173';

function corsHeaders(headers: Record<string, string>): string[] {
  return Object.keys(headers).filter((name) => name.startsWith('access-control-'));
}

describe('CORS on the token and exchange endpoints', () => {
  let app: TestApp;
  let mounted: MountedApp;
  let routeCalls = 0;

  before(async () => {
    app = await startTestApp({ env: { CORS_ORIGINS: `${ALLOWED}, ${LOCAL}/`, RATE_LIMIT_LOGIN_PER_IP: '1' } });
    mounted = await serveWithRoutes(app.services, (router) => {
      // A catch-all for any method on a CORS path, to prove preflights never reach a route.
      router.all('/auth/refresh', enforceRateLimit((ctx) => ctx.services.rateLimits.consumeLoginIp(ctx.ip)), async function refresh(ctx) {
        routeCalls += 1;
        ctx.body = {};
      });
    });
  });
  after(async () => {
    await mounted.close();
    await app.close();
  });

  it('answers a preflight from an allowed origin', async () => {
    const res = await app.http().options('/auth/login').set('Origin', ALLOWED).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type, x-api-key');
    expect(res.status).to.equal(204);
    expect(res.headers['access-control-allow-origin']).to.equal(ALLOWED);
    expect(res.headers['access-control-allow-methods']).to.equal('GET, POST, DELETE');
    expect(res.headers['access-control-allow-headers']).to.match(/Content-Type/).and.match(/X-API-Key/).and.match(/Authorization/);
    expect(res.headers['access-control-max-age']).to.equal('600');
    expect(res.headers['access-control-allow-credentials']).to.equal(undefined);
    expect(res.headers.vary).to.match(/Origin/);
  });

  it('answers a preflight from a refused origin without any CORS header', async () => {
    for (const origin of ['https://evil.example.com', 'https://app.example.com:8443', 'http://app.example.com', 'null', 'not a url']) {
      const res = await app.http().options('/oauth/token').set('Origin', origin).set('Access-Control-Request-Method', 'POST');
      expect(res.status, origin).to.equal(204);
      expect(corsHeaders(res.headers), origin).to.deep.equal([]);
    }
  });

  it('lets an allowed origin read responses, errors and 429s included, with the rate-limit headers exposed', async () => {
    const { apiKey } = await app.services.keys.agents.createWithKey({ name: 'cors-bot', key: { rateLimit: { burst: 1 } } }, { actor: 'test' });
    const ok = await app.http().post('/auth/login').set('Origin', LOCAL).set('X-API-Key', apiKey).send({}).expect(200);
    expect(ok.headers['access-control-allow-origin']).to.equal(LOCAL);
    const exposed = ok.headers['access-control-expose-headers']!;
    for (const name of ['X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'RateLimit', 'RateLimit-Policy', 'Retry-After', 'WWW-Authenticate']) {
      expect(exposed).to.include(name);
    }
    const limited = await app.http().post('/auth/login').set('Origin', LOCAL).set('X-API-Key', apiKey).send({});
    expect(limited.status).to.equal(429);
    expect(limited.headers['access-control-allow-origin']).to.equal(LOCAL);
    const missing = await app.http().get('/auth/test').set('Origin', ALLOWED);
    expect(missing.headers['access-control-allow-origin']).to.equal(ALLOWED);
  });

  it('gives a refused origin no CORS header on the real token endpoint, even where the provider would reflect it', async () => {
    const { client, clientSecret } = await app.services.oidc.clients.create({ name: 'CORS probe', grantTypes: ['client_credentials'] });
    const token = (origin: string) => app.http().post('/oauth/token').set('Origin', origin).auth(client.id, clientSecret!).type('form').send({ grant_type: 'client_credentials' });
    // The engine's clientBasedCORS (fed by isOriginAllowed) refuses a browser call from a foreign
    // origin outright, and the edge makes sure nothing reflects the origin on that answer.
    const refused = await token('https://evil.example.com');
    expect(refused.status).to.equal(400);
    expect(refused.body).to.deep.include({ error: 'invalid_request' });
    expect(refused.body).not.to.have.property('access_token');
    expect(corsHeaders(refused.headers)).to.deep.equal([]);
    // A server-side caller sends no Origin and is not affected.
    const serverSide = await app.http().post('/oauth/token').auth(client.id, clientSecret!).type('form').send({ grant_type: 'client_credentials' });
    expect(serverSide.status).to.equal(200);
    expect(corsHeaders(serverSide.headers)).to.deep.equal([]);
    const allowed = await token(ALLOWED);
    expect(allowed.status).to.equal(200);
    expect(allowed.headers['access-control-allow-origin']).to.equal(ALLOWED);
  });

  it('covers the session endpoints and leaves other routes alone', async () => {
    const sessions = await app.http().options('/auth/sessions/ses_123').set('Origin', ALLOWED).set('Access-Control-Request-Method', 'DELETE');
    expect(sessions.headers['access-control-allow-origin']).to.equal(ALLOWED);
    for (const [path, status] of [['/admin/agents', 401], ['/healthz', 200]] as const) {
      const res = await app.http().get(path).set('Origin', ALLOWED).expect(status);
      expect(corsHeaders(res.headers), path).to.deep.equal([]);
    }
    const preflightElsewhere = await app.http().options('/admin/agents').set('Origin', ALLOWED).set('Access-Control-Request-Method', 'GET');
    expect(corsHeaders(preflightElsewhere.headers)).to.deep.equal([]);
  });

  it('answers preflights itself: they never reach a route, so nothing counts them', async () => {
    for (let i = 0; i < 3; i += 1) {
      const res = await mounted.http().options('/auth/refresh').set('Origin', ALLOWED).set('Access-Control-Request-Method', 'POST').expect(204);
      expect(res.headers['x-ratelimit-limit']).to.equal(undefined);
    }
    expect(routeCalls).to.equal(0);
  });
});

describe('CORS origin checks (for the provider\'s clientBasedCORS)', () => {
  const config = loadConfig({ KEYPORT_SECRET: 'x'.repeat(40), CORS_ORIGINS: 'https://app.example.com,http://localhost:5173/' }, '/tmp');

  it('normalises CORS_ORIGINS entries to origins', () => {
    expect(config.corsOrigins).to.deep.equal(['https://app.example.com', 'http://localhost:5173']);
  });

  it('matches scheme, host and port exactly', () => {
    expect(isOriginAllowed('https://app.example.com', config.corsOrigins)).to.equal(true);
    expect(isOriginAllowed('https://app.example.com:443', config.corsOrigins)).to.equal(true);
    expect(isOriginAllowed('http://localhost:5173', config.corsOrigins)).to.equal(true);
    for (const origin of ['https://app.example.com.evil.io', 'https://evil.app.example.com', 'http://app.example.com', 'http://localhost:5174', 'null', '', undefined, 'javascript:alert(1)']) {
      expect(isOriginAllowed(origin, config.corsOrigins), String(origin)).to.equal(false);
    }
  });

  it('answers like the provider expects: (ctx, origin, client) => boolean', () => {
    const check = clientBasedCors(config);
    expect(check({}, 'https://app.example.com', {})).to.equal(true);
    expect(check({}, 'https://other.example.com', {})).to.equal(false);
  });

  it('knows which paths it covers', () => {
    expect(['/oauth/token', '/oauth/introspect', '/oauth/revoke', '/auth/login', '/auth/refresh', '/auth/test', '/auth/sessions/x'].every(isCorsPath)).to.equal(true);
    expect(['/oauth/jwks', '/.well-known/openid-configuration', '/oauth/authorize', '/admin/keys', '/dashboard', '/interaction/abc'].some(isCorsPath)).to.equal(false);
  });
});
