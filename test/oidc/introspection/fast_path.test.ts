import { expect } from 'chai';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { agentKey, exchangeKey, login } from '../../exchange/support.js';
import type { TestApp } from '../../support/app.js';
import { client, discover, expectOAuthError, registerClient, startOidcApp, type RegisteredClient } from '../support.js';
import { FORM, headerNames, rawPost, type RawAnswer } from '../raw_post.js';

/**
 * The header names, in order, of every 200 answer of the endpoint, as the engine sends them
 * (Keyport's edge headers, the engine's `noCache` step, then koa's JSON body): the fast path's
 * answers, the engine's, and those of Keyport's step inside the engine.
 */
const ANSWER_HEADER_NAMES = ['X-Request-Id', 'X-Content-Type-Options', 'X-Frame-Options', 'Referrer-Policy', 'Vary', 'cache-control', 'Content-Type', 'Content-Length', 'Date', 'Connection', 'Keep-Alive'];

/**
 * `POST /oauth/introspect` has one path: the fast path in front of the engine answers a
 * secret-authenticated caller asking about an active token; everything else goes through the
 * engine's introspection steps, where Keyport's step (in place of `rejectStructuredTokens`) answers
 * JWTs and the engine opaque and refresh tokens. Whoever answers, the answer is the engine's: same
 * status, bytes, header names and order, errors and WWW-Authenticate, and `active: false` cases.
 */
describe('oidc: introspection, one path (fast path in front of the engine, exactly as the engine answers)', () => {
  let app: TestApp;
  let service: RegisteredClient;
  let resourceServer: RegisteredClient;
  /** Introspection requests that reached the engine's middleware. */
  let engineHits = 0;
  /** Tokens the engine refused as structured (UnsupportedTokenType): Keyport's step answers them all. */
  let structuredRefusals = 0;

  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { name: 'service', grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
    resourceServer = await registerClient(app, { name: 'orders API', grantTypes: ['client_credentials'], scopes: ['read'] });
    await app.services.oidc.resourceServers.create({ audience: 'https://opaque.fast.example.com', format: 'opaque' });
    await app.services.oidc.resourceServers.create({ audience: 'https://orders.fast.example.com', format: 'opaque', scopes: ['read'] });
    app.services.oidc.extendProvider((provider) => {
      provider.use(async (ctx, next) => {
        if (ctx.path === '/oauth/introspect') engineHits += 1;
        await next();
      });
      provider.on('introspection.error', (_ctx, err) => { if ((err as Error).name === 'UnsupportedTokenType') structuredRefusals += 1; });
    });
  });
  afterEach(() => { expect(structuredRefusals, 'the engine refused a token as structured').to.equal(0); });
  after(async () => { await app.close(); });

  function send(body: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
    return rawPost(app.url, '/oauth/introspect', body, headers);
  }

  function basic(registered: RegisteredClient, secret = registered.secret!): Record<string, string> {
    return { authorization: `Basic ${Buffer.from(`${registered.id}:${secret}`).toString('base64')}` };
  }

  /** Sends the request and reports whether the engine answered it. */
  async function observe(body: string, headers: Record<string, string> = {}): Promise<RawAnswer & { engine: boolean }> {
    const before = engineHits;
    const answer = await send(body, headers);
    return { ...answer, engine: engineHits > before };
  }

  /**
   * The same introspection through the fast path and through the engine (the engine ignores an
   * unknown parameter, which the fast path leaves to it): the answers must be identical, with the
   * engine's header names in the engine's order and the claims in `keys` order.
   */
  async function expectSameAnswerBothWays(token: string, keys: readonly string[], auth: 'basic' | 'post' = 'basic'): Promise<Record<string, unknown>> {
    const params = new URLSearchParams({ token });
    const headers = auth === 'basic' ? basic(resourceServer) : {};
    if (auth === 'post') {
      params.set('client_id', resourceServer.id);
      params.set('client_secret', resourceServer.secret!);
    }
    const fast = await observe(params.toString(), headers);
    const engine = await observe(`${params.toString()}&ignored=1`, headers);
    expect(fast.engine, 'the fast path answered').to.equal(false);
    expect(engine.engine, 'the engine answered').to.equal(true);
    expect(fast.status).to.equal(200);
    expect(fast.text).to.equal(engine.text);
    expect(fast.headers).to.deep.equal(engine.headers);
    expect(fast.rawHeaders).to.deep.equal(engine.rawHeaders);
    expect(headerNames(fast)).to.deep.equal(ANSWER_HEADER_NAMES);
    expect(fast.headers['cache-control']).to.equal('no-store');
    expect(fast.headers['content-type']).to.equal('application/json; charset=utf-8');
    const parsed = JSON.parse(fast.text) as Record<string, unknown>;
    expect(Object.keys(parsed), 'the claims in the engine\'s order').to.deep.equal(keys);
    expect(parsed.active).to.equal(true);
    return parsed;
  }

  /** An engine answer of 200 `{ active: false }`, with the same headers as every other answer. */
  function expectInactiveFromEngine(answer: RawAnswer & { engine: boolean }, what: string, names: readonly string[] = ANSWER_HEADER_NAMES): void {
    expect(answer, what).to.include({ engine: true, status: 200 });
    expect(JSON.parse(answer.text), what).to.deep.equal({ active: false });
    expect(headerNames(answer), what).to.deep.equal(names);
    expect(answer.headers, what).to.include({ 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' });
    expect(answer.headers, what).not.to.have.property('www-authenticate');
  }

  /** Claim order of each kind of answer (the JWT's from AccessTokenService, the opaque token's from the engine's renderTokenResponse). */
  const JWT_KEYS = ['active', 'sub', 'client_id', 'exp', 'iat', 'iss', 'jti', 'aud', 'scope', 'token_type'];
  const OPAQUE_KEYS = ['active', 'client_id', 'exp', 'iat', 'iss', 'aud', 'scope', 'token_type'];
  const API_KEY_CLAIMS = ['api_key_id', 'agent_id', 'session_id', 'sid', 'env', 'access_type'];

  async function jwtFor(registered: RegisteredClient, parameters: Record<string, string> = { scope: 'read' }): Promise<string> {
    return (await client.clientCredentialsGrant(await discover(app, registered), parameters)).access_token;
  }

  describe('answers the common case exactly as the engine', () => {
    it('a client-credentials JWT, Basic and form client authentication', async () => {
      const token = await jwtFor(service, { scope: 'read write' });
      const body = await expectSameAnswerBothWays(token, JWT_KEYS);
      expect(body).to.include({ client_id: service.id, sub: service.id, scope: 'read write', token_type: 'Bearer', iss: app.config.issuer });
      await expectSameAnswerBothWays(token, JWT_KEYS, 'post');
    });

    it('an opaque client-credentials token', async () => {
      const token = await jwtFor(service, { scope: 'read', resource: 'https://opaque.fast.example.com' });
      expect(token.split('.')).to.have.length(1);
      const body = await expectSameAnswerBothWays(token, OPAQUE_KEYS);
      expect(body).to.include({ client_id: service.id, aud: 'https://opaque.fast.example.com' });
      expect(body).not.to.have.property('jti');
    });

    it('an API-key JWT from /auth/login (key, agent and session claims)', async () => {
      const { apiKey, key } = await agentKey(app);
      const res = await login(app, apiKey, { session_id: 'fast-path' });
      expect(res.status, res.text).to.equal(200);
      const body = await expectSameAnswerBothWays(res.body.access_token as string, [...API_KEY_CLAIMS, ...JWT_KEYS]);
      expect(body).to.include({ api_key_id: key.id, session_id: 'fast-path', env: 'live' });
    });

    it('an opaque API-key token with an account, a grant and extra claims', async () => {
      const { apiKey, key, agent } = await agentKey(app);
      const tokens = await exchangeKey(app, apiKey, { resource: 'https://orders.fast.example.com', session_id: 'opaque' });
      const body = await expectSameAnswerBothWays(tokens.access_token, ['active', 'sub', ...API_KEY_CLAIMS, ...OPAQUE_KEYS.slice(1)]);
      expect(body).to.include({ sub: agent.id, api_key_id: key.id, session_id: 'opaque', aud: 'https://orders.fast.example.com' });
    });

    it('a DPoP-bound opaque token: cnf.jkt and token_type DPoP, as the engine answers (RFC 9449 §6.2)', async () => {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const config = await discover(app, service);
      const tokens = await client.clientCredentialsGrant(config, { scope: 'read', resource: 'https://opaque.fast.example.com' }, { DPoP: client.getDPoPHandle(config, keyPair) });
      expect(tokens.token_type).to.equal('dpop');
      const body = await expectSameAnswerBothWays(tokens.access_token, [...OPAQUE_KEYS.slice(0, -1), 'cnf', 'token_type']);
      expect(body.token_type).to.equal('DPoP');
      expect(body.cnf).to.deep.equal({ jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) });
    });

    it('a DPoP-bound JWT: cnf.jkt and token_type DPoP on both halves', async () => {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const config = await discover(app, service);
      const tokens = await client.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: client.getDPoPHandle(config, keyPair) });
      const body = await expectSameAnswerBothWays(tokens.access_token, [...JWT_KEYS.slice(0, -1), 'cnf', 'token_type']);
      expect(body).to.deep.include({ token_type: 'DPoP', cnf: { jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) } });
    });

    it('counts under the engine\'s route label in /metrics', async () => {
      const token = await jwtFor(service);
      const fast = await observe(new URLSearchParams({ token }).toString(), basic(resourceServer));
      expect(fast.engine).to.equal(false);
      const metrics = await app.http().get('/metrics').expect(200);
      expect(metrics.text).to.match(/keyport_http_requests_total\{[^}]*route="oidc:introspection"[^}]*status="200"[^}]*\} [1-9]/);
    });
  });

  describe('leaves everything else to the engine, which answers as before', () => {
    let token: string;
    before(async () => { token = await jwtFor(service); });

    it('a wrong secret: 401 invalid_client with WWW-Authenticate', async () => {
      const answer = await observe(new URLSearchParams({ token }).toString(), basic(resourceServer, 'wrong-secret'));
      expect(answer.engine).to.equal(true);
      expect(answer.status).to.equal(401);
      expect(JSON.parse(answer.text)).to.include({ error: 'invalid_client' });
      expect(answer.headers['www-authenticate']).to.match(/^Basic /);
    });

    it('a wrong secret in the form, an unknown client, a secret in both places', async () => {
      const wrongPost = await observe(new URLSearchParams({ token, client_id: resourceServer.id, client_secret: 'nope' }).toString());
      expect(wrongPost).to.include({ engine: true, status: 401 });
      expect(wrongPost.headers).not.to.have.property('www-authenticate');
      const unknown = await observe(new URLSearchParams({ token }).toString(), basic({ id: 'cli_doesnotexist', secret: 'x' }));
      expect(unknown).to.include({ engine: true, status: 401 });
      const both = await observe(new URLSearchParams({ token, client_secret: resourceServer.secret! }).toString(), basic(resourceServer));
      expect(both).to.include({ engine: true, status: 400 });
      expect(JSON.parse(both.text)).to.include({ error: 'invalid_request' });
    });

    it('a client_id in the form that differs from the Basic one, malformed Basic credentials', async () => {
      const mismatch = await observe(new URLSearchParams({ token, client_id: service.id }).toString(), basic(resourceServer));
      expect(mismatch).to.include({ engine: true, status: 400 });
      for (const authorization of ['Basic !!!', 'Basic', `Bearer ${token}`, `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
        const answer = await observe(new URLSearchParams({ token }).toString(), { authorization });
        expect(answer.engine, authorization).to.equal(true);
        expect(answer.status, authorization).to.equal(400);
      }
    });

    it('a client that authenticates otherwise (public client, none): its own tokens only', async () => {
      const spa = await registerClient(app, { grantTypes: ['authorization_code'], redirectUris: ['https://spa.example.com/cb'], public: true });
      const answer = await observe(new URLSearchParams({ token, client_id: spa.id }).toString());
      // A public caller is counted against its address (the limit's headers come with the answer).
      const names = [...ANSWER_HEADER_NAMES];
      names.splice(names.indexOf('cache-control') + 1, 0, 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'RateLimit-Policy', 'RateLimit');
      expectInactiveFromEngine(answer, 'a public client, another client\'s JWT', names);
    });

    it('repeated parameters, a missing token, empty values', async () => {
      const dupes = await observe(`token=${token}&token=${token}`, basic(resourceServer));
      expect(dupes).to.include({ engine: true, status: 400 });
      expect(JSON.parse(dupes.text)).to.include({ error: 'invalid_request' });
      const missing = await observe('', basic(resourceServer));
      expect(missing).to.include({ engine: true, status: 400 });
      const empty = await observe('token=', basic(resourceServer));
      expect(empty).to.include({ engine: true, status: 400 });
    });

    it('a JSON body, a body with a charset other than UTF-8, an oversized body', async () => {
      const json = await observe(JSON.stringify({ token }), { 'content-type': 'application/json', ...basic(resourceServer) });
      expect(json).to.include({ engine: true, status: 400 });
      expect(JSON.parse(json.text)).to.include({ error: 'invalid_request' });
      const latin1 = await observe(new URLSearchParams({ token }).toString(), { 'content-type': `${FORM}; charset=iso-8859-1`, ...basic(resourceServer) });
      expect(latin1).to.include({ engine: true, status: 200 });
      const big = await observe(new URLSearchParams({ token: 'x'.repeat(20_000) }).toString(), basic(resourceServer));
      expectInactiveFromEngine(big, 'an oversized body');
    });

    it('a query string, a refresh-token hint, an Origin header (CORS stays with the engine)', async () => {
      for (const [path, headers, body] of [
        ['/oauth/introspect?x=1', {}, `token=${token}`],
        ['/oauth/introspect', {}, `token=${token}&token_type_hint=refresh_token`],
      ] as const) {
        const before = engineHits;
        const res = await fetch(new URL(path, app.url), { method: 'POST', headers: { 'content-type': FORM, ...basic(resourceServer), ...headers }, body });
        expect(engineHits, path).to.equal(before + 1);
        expect(res.status).to.equal(200);
        expect(await res.json()).to.include({ active: true, client_id: service.id });
      }
      // The engine refuses a confidential client called from an origin it does not allow.
      const crossOrigin = await observe(`token=${token}`, { origin: 'https://elsewhere.example.com', ...basic(resourceServer) });
      expect(crossOrigin).to.include({ engine: true, status: 400 });
      expect(JSON.parse(crossOrigin.text)).to.include({ error: 'invalid_request' });
      expect(crossOrigin.headers).not.to.have.property('access-control-allow-origin');
    });

    it('unknown, malformed and revoked tokens: active:false', async () => {
      for (const value of ['garbage-token-that-is-unknown', 'a.b.c', 'ünïcödé']) {
        const answer = await observe(new URLSearchParams({ token: value }).toString(), basic(resourceServer));
        expectInactiveFromEngine(answer, value);
      }
      const doomed = await jwtFor(service);
      expect((await observe(new URLSearchParams({ token: doomed }).toString(), basic(resourceServer))).engine).to.equal(false);
      await client.tokenRevocation(await discover(app, service), doomed);
      const revoked = await observe(new URLSearchParams({ token: doomed }).toString(), basic(resourceServer));
      expectInactiveFromEngine(revoked, 'a revoked JWT');
    });

    it('tokens the engine calls structured but Keyport never issues (JWE shape, empty signature, over 8 KiB): active:false from Keyport\'s step, never refused', async () => {
      const header = Buffer.from('{"alg":"ES256","typ":"at+jwt","kid":"k"}').toString('base64url');
      for (const [what, value] of [
        ['an empty signature', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
        ['five segments (JWE)', `${header}.a.b.c.d`],
        ['a JWS longer than 8 KiB', `${header}.${'A'.repeat(9000)}.c2ln`],
      ] as const) {
        expectInactiveFromEngine(await observe(new URLSearchParams({ token: value }).toString(), basic(resourceServer)), what);
      }
    });

    it('a refresh token: the engine\'s answer', async () => {
      const { apiKey } = await agentKey(app);
      const res = await login(app, apiKey, { session_id: 'refresh-introspection' });
      const answer = await observe(new URLSearchParams({ token: res.body.refresh_token as string }).toString(), basic(resourceServer));
      expect(answer).to.include({ engine: true, status: 200 });
      expect(JSON.parse(answer.text)).to.include({ active: true, client_id: 'keyport-api-key' });
    });

    it('a JWT tampered after a cached verification is refused', async () => {
      const good = await jwtFor(service, { scope: 'read' });
      expect((await observe(new URLSearchParams({ token: good }).toString(), basic(resourceServer))).engine).to.equal(false);
      const [header, payload, signature] = good.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      claims.scope = 'read write admin';
      const tampered = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
      const answer = await observe(new URLSearchParams({ token: tampered }).toString(), basic(resourceServer));
      expectInactiveFromEngine(answer, 'a tampered JWT');
    });

    it('keeps error bodies free of internals', async () => {
      expectOAuthError(await app.http().post('/oauth/introspect').type('form').send('token=%'), 'invalid_request', 400);
    });
  });
});
