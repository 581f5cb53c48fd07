import { expect } from 'chai';
import type { Response } from 'supertest';
import { introspectionStepNames } from '../../../src/oidc/engine/index.js';
import { installJwtIntrospectionStep } from '../../../src/oidc/structured_tokens.js';
import { agentKey, API_KEY_CLIENT, exchangeKey, login } from '../../exchange/support.js';
import type { TestApp } from '../../support/app.js';
import { expectOAuthError, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

const OPAQUE = 'https://opaque.public.example.com';
const LIMIT = 5;

let addresses = 0;
/** A fresh caller address (TRUST_PROXY=true): each test counts in its own bucket. */
function nextAddress(): string {
  addresses += 1;
  return `198.51.100.${addresses}`;
}

interface Tokens {
  jwt: string;
  opaque: string;
  refreshToken: string;
}

async function apiKeyTokens(app: TestApp): Promise<Tokens> {
  const { apiKey } = await agentKey(app);
  const session = await login(app, apiKey, { session_id: 'public-caller' });
  const opaque = await exchangeKey(app, apiKey, { session_id: 'public-opaque', resource: OPAQUE });
  expect(opaque.access_token.split('.')).to.have.length(1);
  return { jwt: session.body.access_token as string, opaque: opaque.access_token, refreshToken: session.body.refresh_token as string };
}

/** Introspection as the public client keyport-api-key: `client_id` and nothing else (the audit's request). */
function publicIntrospect(app: TestApp, from: string, token: string, extra: Record<string, string> = {}): Promise<Response> {
  return app.http().post('/oauth/introspect').type('form').set('X-Forwarded-For', from).send({ token, client_id: API_KEY_CLIENT, ...extra }).then((res) => res);
}

function confidentialIntrospect(app: TestApp, from: string, caller: RegisteredClient, token: string): Promise<Response> {
  return app.http().post('/oauth/introspect').type('form').set('X-Forwarded-For', from).auth(caller.id, caller.secret!).send({ token }).then((res) => res);
}

/**
 * Issue 12, low: unauthenticated introspection through `client_id=keyport-api-key` was unlimited and
 * answered every claim. A public caller now counts against its address and learns only `active`
 * and `exp` — whichever token it asks about: the engine's introspection steps, with Keyport's step in
 * place of the engine's `rejectStructuredTokens` (JWTs), the engine's lookup (opaque and refresh
 * tokens), and a request shaped for the fast path, which leaves a public caller to the engine.
 */
describe('oidc: introspection by a caller that does not authenticate (security)', () => {
  it('the engine still has the introspection step Keyport replaces (an engine upgrade that moves it fails here)', () => {
    expect(() => installJwtIntrospectionStep(), 'oidc-provider lib/actions/introspection.js has a step named rejectStructuredTokens').not.to.throw();
    expect(introspectionStepNames()).to.include('introspectJwtOrContinue').and.not.include('rejectStructuredTokens');
  });

  describe('through the engine\'s introspection steps', () => {
    let app: TestApp;
    let resourceServer: RegisteredClient;
    let tokens: Tokens;
    /** Introspection requests that reached the engine, and JWTs it refused (must stay 0: Keyport's step answers them). */
    let engineHits = 0;
    let structuredRefusals = 0;

    before(async () => {
      app = await startOidcApp({ env: { TRUST_PROXY: 'true', RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP: String(LIMIT) } });
      await app.services.oidc.resourceServers.create({ audience: OPAQUE, format: 'opaque', scopes: ['read'] });
      resourceServer = await registerClient(app, { name: 'resource server', grantTypes: ['client_credentials'], scopes: ['read'] });
      tokens = await apiKeyTokens(app);
      app.services.oidc.extendProvider((provider) => {
        provider.use(async (ctx, next) => {
          if (ctx.path === '/oauth/introspect') engineHits += 1;
          await next();
        });
        provider.on('introspection.error', (_ctx, err) => { if ((err as Error).name === 'UnsupportedTokenType') structuredRefusals += 1; });
      });
    });
    after(async () => { await app.close(); });

    it('answers a public caller only active and exp, for a JWT, an opaque token and a refresh token', async () => {
      const from = nextAddress();
      for (const [token, extra] of [[tokens.jwt, {}], [tokens.opaque, {}], [tokens.refreshToken, { token_type_hint: 'refresh_token' }]] as const) {
        const res = await publicIntrospect(app, from, token, extra);
        expect(res.status, res.text).to.equal(200);
        expect(Object.keys(res.body).sort()).to.deep.equal(['active', 'exp']);
        expect(res.body.active).to.equal(true);
        expect(res.body.exp).to.be.a('number').greaterThan(Math.floor(Date.now() / 1000));
      }
      // Keyport's step answered the JWT: the engine never refused it.
      expect(structuredRefusals, 'the engine refused a JWT (UnsupportedTokenType)').to.equal(0);
      const unknown = await publicIntrospect(app, from, 'not-a-token-at-all-0123456789');
      expect(unknown.body).to.deep.equal({ active: false });
      // An authenticated resource server still gets every claim.
      const full = await confidentialIntrospect(app, nextAddress(), resourceServer, tokens.jwt);
      expect(full.body).to.include({ active: true, client_id: API_KEY_CLIENT, session_id: 'public-caller' });
      expect(full.body).to.have.property('api_key_id');
    });

    it('answers the same to a request shaped for the introspection fast path, which leaves it to the engine', async () => {
      const before = engineHits;
      const res = await app.http().post('/oauth/introspect').set('Content-Type', 'application/x-www-form-urlencoded').set('X-Forwarded-For', nextAddress())
        .send(`token=${tokens.jwt}&client_id=${API_KEY_CLIENT}`);
      expect(engineHits, 'the engine answered').to.equal(before + 1);
      expect(Object.keys(res.body).sort()).to.deep.equal(['active', 'exp']);
    });

    it(`counts a public caller per address: ${LIMIT} a minute, then 429 rate_limit_exceeded; other addresses and authenticated callers are not affected`, async () => {
      const from = nextAddress();
      for (let i = 0; i < LIMIT; i += 1) {
        const res = await publicIntrospect(app, from, i % 2 ? tokens.jwt : 'unknown-token-0123456789abcdef');
        expect(res.status, res.text).to.equal(200);
      }
      for (const token of [tokens.jwt, tokens.opaque]) {
        const over = await publicIntrospect(app, from, token);
        expectOAuthError(over, 'rate_limit_exceeded', 429);
        expect(over.body).not.to.have.property('active');
        expect(Number(over.headers['retry-after'])).to.be.within(1, 60);
      }
      expect((await publicIntrospect(app, nextAddress(), tokens.jwt)).status).to.equal(200);
      for (let i = 0; i < LIMIT + 2; i += 1) expect((await confidentialIntrospect(app, from, resourceServer, tokens.jwt)).status).to.equal(200);
    });
  });
});
