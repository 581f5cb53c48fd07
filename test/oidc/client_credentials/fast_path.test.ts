import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { TestApp } from '../../support/app.js';
import { headerNames, rawPost, type RawAnswer } from '../raw_post.js';
import { expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

/** Rate-limit fields whose values move from one answer to the next (the count, the reset instant). */
const MOVING_LIMIT_FIELDS = ['x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit'];
/**
 * The header names, in order, of every 200 token answer, as the engine sends them: Keyport's edge
 * headers, the engine's `noCache` step, koa's JSON body, then the per-client limit's fields.
 */
const ANSWER_HEADER_NAMES = [
  'X-Request-Id', 'X-Content-Type-Options', 'X-Frame-Options', 'Referrer-Policy', 'Vary', 'cache-control', 'Content-Type',
  'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'RateLimit-Policy', 'RateLimit',
  'Content-Length', 'Date', 'Connection', 'Keep-Alive',
];
/** What differs between two tokens minted for the same request. */
const PER_TOKEN_CLAIMS = new Set(['jti', 'iat', 'exp']);

/** Counts token requests that reached the engine's middleware (the fast path answers in front of it). */
function countEngineTokenRequests(app: TestApp): { readonly hits: number } {
  const counter = { hits: 0 };
  app.services.oidc.extendProvider((provider) => {
    provider.use(async (ctx, next) => {
      if (ctx.path === '/oauth/token') counter.hits += 1;
      await next();
    });
  });
  return counter;
}

function basic(registered: RegisteredClient, secret = registered.secret!): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${registered.id}:${secret}`).toString('base64')}` };
}

/**
 * `POST /oauth/token` with `grant_type=client_credentials`: a confidential client authenticating
 * with its secret gets its token from the fast path in front of the engine; everything else from
 * the engine. Whoever answers, the answer is the engine's: same status, header names and order,
 * body members and order, the same token (claims, order, header, signature key), the same errors.
 */
describe('oidc: client credentials, fast path in front of the engine (exactly as the engine answers)', () => {
  let app: TestApp;
  let service: RegisteredClient;
  let engine: { readonly hits: number };

  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { name: 'service', grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
    await app.services.oidc.resourceServers.create({ audience: 'https://orders.fast.example.com', format: 'jwt', scopes: ['read'] });
    await app.services.oidc.resourceServers.create({ audience: 'https://opaque.fast.example.com', format: 'opaque', scopes: ['read', 'write'] });
    engine = countEngineTokenRequests(app);
  });
  after(async () => { await app.close(); });

  /** Sends the request and reports whether the engine answered it. */
  async function observe(body: string, headers: Record<string, string> = {}): Promise<RawAnswer & { engine: boolean }> {
    const before = engine.hits;
    const answer = await rawPost(app.url, '/oauth/token', body, headers, MOVING_LIMIT_FIELDS);
    return { ...answer, engine: engine.hits > before };
  }

  /**
   * The same token request through the fast path and through the engine (the engine ignores an
   * unknown parameter, which the fast path leaves to it): the answers must agree in everything
   * but what differs between any two tokens.
   */
  async function expectSameAnswerBothWays(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString();
    const fast = await observe(form, headers);
    const slow = await observe(`${form}&ignored=1`, headers);
    expect(fast.engine, 'the fast path answered').to.equal(false);
    expect(slow.engine, 'the engine answered').to.equal(true);
    expect(fast.status, fast.text).to.equal(200);
    expect(slow.status, slow.text).to.equal(200);
    expect(fast.rawHeaders).to.deep.equal(slow.rawHeaders);
    expect(headerNames(fast)).to.deep.equal(ANSWER_HEADER_NAMES);
    expect(fast.headers).to.include({ 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' });

    const fastBody = JSON.parse(fast.text) as Record<string, unknown>;
    const slowBody = JSON.parse(slow.text) as Record<string, unknown>;
    expect(Object.keys(fastBody), 'members in the engine\'s order').to.deep.equal(Object.keys(slowBody));
    expect({ ...fastBody, access_token: undefined }).to.deep.equal({ ...slowBody, access_token: undefined });
    const fastToken = String(fastBody.access_token);
    const slowToken = String(slowBody.access_token);
    if (slowToken.includes('.')) {
      expect(decodeProtectedHeader(fastToken)).to.deep.equal(decodeProtectedHeader(slowToken));
      const fastClaims = decodeJwt(fastToken);
      const slowClaims = decodeJwt(slowToken);
      expect(Object.keys(fastClaims), 'claims in the engine\'s order').to.deep.equal(Object.keys(slowClaims));
      for (const [name, value] of Object.entries(slowClaims)) if (!PER_TOKEN_CLAIMS.has(name)) expect(fastClaims[name], name).to.deep.equal(value);
      expect(fastClaims.exp! - fastClaims.iat!).to.equal(slowClaims.exp! - slowClaims.iat!);
    } else {
      expect(fastToken).to.have.length(slowToken.length);
    }
    return fastBody;
  }

  describe('answers in front of the engine', () => {
    it('a JWT for the issuer, with Basic and with form client authentication', async () => {
      const body = await expectSameAnswerBothWays({ scope: 'read' }, basic(service));
      expect(body).to.include({ scope: 'read', token_type: 'Bearer', expires_in: 3600 });
      await expectSameAnswerBothWays({ scope: 'write read', client_id: service.id, client_secret: service.secret! });
    });

    it('no scope, a repeated scope, and scopes the audience narrows', async () => {
      const none = await expectSameAnswerBothWays({}, basic(service));
      expect(none).not.to.have.property('scope');
      expect(await expectSameAnswerBothWays({ scope: 'read read' }, basic(service))).to.include({ scope: 'read' });
      const orders = await expectSameAnswerBothWays({ scope: 'read write', resource: 'https://orders.fast.example.com' }, basic(service));
      expect(orders.scope).to.equal('read');
      expect(decodeJwt(String(orders.access_token)).aud).to.equal('https://orders.fast.example.com');
    });

    it('an opaque token for an audience that takes them, which introspects active', async () => {
      const body = await expectSameAnswerBothWays({ scope: 'read', resource: 'https://opaque.fast.example.com' }, basic(service));
      expect(String(body.access_token).split('.')).to.have.length(1);
      const introspected = await postForm(app, '/oauth/introspect', { token: String(body.access_token) }, service).expect(200);
      expect(introspected.body).to.include({ active: true, client_id: service.id, scope: 'read', aud: 'https://opaque.fast.example.com' });
    });

    it('counts each token in keyport_tokens_issued_total and under the engine\'s route label', async () => {
      const issued = async () => {
        const text = (await app.http().get('/metrics').expect(200)).text;
        return Number(/keyport_tokens_issued_total\{grant="client_credentials",kind="access_token"\} (\d+)/.exec(text)?.[1] ?? 0);
      };
      const before = await issued();
      const answer = await observe('grant_type=client_credentials&scope=read', basic(service));
      expect(answer).to.include({ engine: false, status: 200 });
      expect(await issued()).to.equal(before + 1);
      const metrics = await app.http().get('/metrics').expect(200);
      expect(metrics.text).to.match(/keyport_http_requests_total\{[^}]*route="oidc:token"[^}]*status="200"[^}]*\} [1-9]/);
    });
  });

  describe('leaves to the engine (which answers as before)', () => {
    it('a wrong secret, an unknown client, a secret in both places: 401 invalid_client', async () => {
      const wrong = await observe('grant_type=client_credentials', basic(service, 'not-the-secret'));
      expect(wrong).to.include({ engine: true, status: 401 });
      expect(JSON.parse(wrong.text).error).to.equal('invalid_client');
      const unknown = await observe('grant_type=client_credentials&client_id=cli_nobody&client_secret=whatever');
      expect(unknown).to.include({ engine: true, status: 401 });
      const both = await observe(`grant_type=client_credentials&client_secret=${service.secret}`, basic(service));
      expect(both.engine).to.equal(true);
      expect(both.status).to.equal(400);
      expect(JSON.parse(both.text).error).to.equal('invalid_request');
    });

    it('a client without the grant (invalid_request, the engine\'s word), a scope outside the client\'s list, an unknown audience', async () => {
      const web = await registerClient(app, { name: 'web', grantTypes: ['authorization_code'], redirectUris: ['https://web.example.com/cb'] });
      const notAllowed = await observe('grant_type=client_credentials', basic(web));
      expect(notAllowed).to.include({ engine: true, status: 400 });
      expect(JSON.parse(notAllowed.text).error).to.equal('invalid_request');
      const outside = await observe('grant_type=client_credentials&scope=read%20admin', basic(service));
      expect(outside.status, outside.text).to.equal(200);
      expect(JSON.parse(outside.text).scope, 'narrowed to what the client may have').to.equal('read');
      const target = await observe(`grant_type=client_credentials&resource=${encodeURIComponent('https://nowhere.example.com')}`, basic(service));
      expect(target).to.include({ engine: true, status: 400 });
      expect(JSON.parse(target.text).error).to.equal('invalid_target');
      const fragment = await observe(`grant_type=client_credentials&resource=${encodeURIComponent('https://orders.fast.example.com#x')}`, basic(service));
      expect(fragment).to.include({ engine: true, status: 400 });
    });

    it('repeated or empty parameters, a query string, another grant, a JSON body', async () => {
      expectOAuthError(await app.http().post('/oauth/token').type('form').auth(service.id, service.secret!).send('grant_type=client_credentials&grant_type=client_credentials'), 'invalid_request', 400);
      const empty = await observe('grant_type=client_credentials&scope=', basic(service));
      expect(empty).to.include({ engine: true, status: 200 });
      const before = engine.hits;
      const withQuery = await rawPost(app.url, '/oauth/token?x=1', 'grant_type=client_credentials', basic(service));
      expect(withQuery.status, withQuery.text).to.equal(200);
      expect(engine.hits, 'a query string goes to the engine').to.equal(before + 1);
      const refresh = await observe('grant_type=refresh_token&refresh_token=nope', basic(service));
      expect(refresh).to.include({ engine: true, status: 400 });
      const json = await observe(JSON.stringify({ grant_type: 'client_credentials' }), { 'content-type': 'application/json', ...basic(service) });
      expect(json.engine).to.equal(true);
      expect(json.status).to.equal(400);
    });

    it('a DPoP proof, an Origin header, a client that must use DPoP', async () => {
      const proof = await observe('grant_type=client_credentials', { ...basic(service), dpop: 'not-a-proof' });
      expect(proof).to.include({ engine: true, status: 400 });
      expect(JSON.parse(proof.text).error).to.equal('invalid_dpop_proof');
      // An origin outside CORS_ORIGINS: the engine's own CORS check refuses it.
      const cors = await observe('grant_type=client_credentials', { ...basic(service), origin: 'https://elsewhere.example.com' });
      expect(cors).to.include({ engine: true, status: 400 });
      expect(JSON.parse(cors.text).error).to.equal('invalid_request');
      expect(cors.headers).not.to.have.property('access-control-allow-origin');
      const bound = await registerClient(app, { name: 'bound', grantTypes: ['client_credentials'], scopes: ['read'], requireDpop: true });
      const unbound = await observe('grant_type=client_credentials', basic(bound));
      expect(unbound).to.include({ engine: true, status: 400 });
    });

    it('a client that authenticates with private_key_jwt, trying a secret', async () => {
      const keyed = await registerClient(app, { name: 'keyed', grantTypes: ['client_credentials'], scopes: ['read'], jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', use: 'sig', alg: 'ES256' }] } });
      const answer = await observe('grant_type=client_credentials', basic(keyed, 'guessed'));
      expect(answer).to.include({ engine: true, status: 401 });
    });
  });
});

describe('oidc: client credentials fast path and the per-client limit', () => {
  let app: TestApp;
  let service: RegisteredClient;
  let engine: { readonly hits: number };

  before(async () => {
    app = await startOidcApp({ env: { RATE_LIMIT_CLIENT_PER_MIN: '3' } });
    service = await registerClient(app, { name: 'limited', grantTypes: ['client_credentials'], scopes: ['read'] });
    engine = countEngineTokenRequests(app);
  });
  after(async () => { await app.close(); });

  it('counts its tokens in the client\'s window and leaves the refusal (429, before minting) to the engine', async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const before = engine.hits;
      const answer = await rawPost(app.url, '/oauth/token', 'grant_type=client_credentials&scope=read', basic(service));
      expect(answer.status, answer.text).to.equal(200);
      expect(engine.hits, 'answered in front of the engine').to.equal(before);
      expect(answer.headers['x-ratelimit-limit']).to.equal('3');
      remaining.push(answer.headers['x-ratelimit-remaining']!);
    }
    expect(remaining).to.deep.equal(['2', '1', '0']);
    const before = engine.hits;
    const refused = await app.http().post('/oauth/token').type('form').auth(service.id, service.secret!).send({ grant_type: 'client_credentials', scope: 'read' });
    expectOAuthError(refused, 'rate_limit_exceeded', 429);
    expect(refused.headers['retry-after']).to.match(/^\d+$/);
    expect(engine.hits, 'the engine refused it').to.equal(before + 1);
  });

  it('does not count a wrong secret (the engine\'s 401)', async () => {
    const other = await registerClient(app, { name: 'other', grantTypes: ['client_credentials'], scopes: ['read'] });
    for (let i = 0; i < 5; i += 1) {
      const wrong = await rawPost(app.url, '/oauth/token', 'grant_type=client_credentials', basic(other, 'wrong'));
      expect(wrong.status).to.equal(401);
    }
    const good = await rawPost(app.url, '/oauth/token', 'grant_type=client_credentials', basic(other));
    expect(good.status, good.text).to.equal(200);
    expect(good.headers['x-ratelimit-remaining']).to.equal('2');
  });
});
