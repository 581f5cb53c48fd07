import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { BoundedReplayCache, createVerifier, type AuthOutcome, type KeyportVerifier } from '@keyport/verify';
import { keyport as koaKeyport } from '@keyport/verify/koa';
import { keyport as expressKeyport } from '@keyport/verify/express';
import { keyport as fastifyKeyport } from '@keyport/verify/fastify';
import { freePort } from '../support/app.js';
import { dpopKey, proof, type DpopKey } from '../oidc/dpop/support.js';
import { agentWithKey, startKeyport, type KeyportFixture } from './support.js';

const API = 'https://orders.example.com';

function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function refused(outcome: AuthOutcome): Extract<AuthOutcome, { ok: false }> {
  expect(outcome.ok, 'refused').to.equal(false);
  return outcome as Extract<AuthOutcome, { ok: false }>;
}

/**
 * The resource-server kit with `dpop`: a DPoP-bound token is accepted as `Authorization: DPoP`
 * with a proof of its key for this request (htm, htu, iat, ath), once (jti); every other shape is
 * refused with `invalid_dpop_proof` or `invalid_token` and a DPoP challenge.
 */
describe('resource-server kit: DPoP-bound tokens (RFC 9449)', () => {
  let fx: KeyportFixture;
  let verifier: KeyportVerifier;
  let key: DpopKey;
  let token: string;
  let bearer: string;

  before(async () => {
    fx = await startKeyport();
    verifier = createVerifier({
      issuer: fx.app.config.issuer, resource: API, audience: [API, fx.app.config.issuer],
      introspection: { clientId: fx.apiClient.id, clientSecret: fx.apiClient.secret!, cacheSeconds: 0 },
      dpop: { maxAgeSeconds: 60, replayCacheSize: 1000 },
    });
    const { apiKey } = await agentWithKey(fx.app, ['read']);
    key = await dpopKey();
    const login = await fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('DPoP', await proof(key, 'POST', `${fx.app.config.issuer}/auth/login`)).send({ session_id: 'kit' });
    expect(login.body.token_type).to.equal('DPoP');
    token = login.body.access_token as string;
    bearer = (await fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).send({ session_id: 'kit-bearer' })).body.access_token as string;
  });
  after(async () => { await fx?.app.close(); });

  const request = async (options: { htm?: string; htu?: string; token?: string; signer?: DpopKey; iat?: number; jti?: string } = {}) => ({
    method: 'GET',
    url: `${API}/orders?page=2`,
    dpop: await proof(options.signer ?? key, options.htm ?? 'GET', options.htu ?? `${API}/orders`, { ath: ath(options.token ?? token), iat: options.iat, jti: options.jti }),
  });

  it('accepts the bound token with a proof of its key, checking the claims locally and by introspection', async () => {
    const local = await verifier.authenticate(`DPoP ${token}`, ['read'], await request());
    expect(local.ok).to.equal(true);
    const introspected = await verifier.authenticate(`DPoP ${token}`, { scopes: ['read'], introspect: true }, await request());
    expect(introspected.ok).to.equal(true);
  });

  it('refuses a replayed proof, and proofs for another method, URL, token, key or time', async () => {
    const once = await request();
    expect((await verifier.authenticate(`DPoP ${token}`, ['read'], once)).ok).to.equal(true);
    const cases: Array<[string, Awaited<ReturnType<typeof request>>, RegExp]> = [
      ['replay', once, /already used/],
      ['htm', await request({ htm: 'POST' }), /method/],
      ['htu', await request({ htu: `${API}/other` }), /URL/],
      ['ath', await request({ token: bearer }), /ath/],
      ['key', await request({ signer: await dpopKey() }), /another key/],
      ['iat', await request({ iat: Math.floor(Date.now() / 1000) - 3600 }), /recent/],
      ['none', { method: 'GET', url: `${API}/orders`, dpop: undefined as unknown as string }, /exactly one DPoP header/],
      ['two', { method: 'GET', url: `${API}/orders`, dpop: [once.dpop, once.dpop] as unknown as string }, /exactly one DPoP header/],
    ];
    for (const [what, info, description] of cases) {
      const outcome = refused(await verifier.authenticate(`DPoP ${token}`, ['read'], info));
      expect(outcome.status, what).to.equal(401);
      expect(outcome.body.error, what).to.equal('invalid_dpop_proof');
      expect(outcome.body.error_description, what).to.match(description);
      expect(outcome.headers['www-authenticate'], what).to.match(/^DPoP error="invalid_dpop_proof", error_description="[^"]+", scope="read", resource_metadata="[^"]+", algs="ES256 Ed25519 EdDSA"$/);
      expect(JSON.stringify(outcome)).not.to.include(token);
    }
  });

  it('refuses a bound token as Bearer, and a bearer token as DPoP', async () => {
    expect(refused(await verifier.authenticate(`Bearer ${token}`, ['read'], await request())).body.error_description).to.match(/bound to a key/);
    const unbound = refused(await verifier.authenticate(`DPoP ${bearer}`, ['read'], await request({ token: bearer })));
    expect(unbound.body).to.include({ error: 'invalid_token' });
    expect(unbound.headers['www-authenticate']).to.match(/^DPoP error="invalid_token"/);
  });

  it('an opaque DPoP-bound token through introspection (cnf.jkt from Keyport)', async () => {
    await fx.app.services.oidc.resourceServers.create({ audience: API, format: 'opaque', scopes: ['read'] });
    const res = await fx.app.http().post('/oauth/token').type('form').auth(fx.service.id, fx.service.secret!)
      .set('DPoP', await proof(key, 'POST', `${fx.app.config.issuer}/oauth/token`)).send({ grant_type: 'client_credentials', scope: 'read', resource: API });
    expect(res.body.token_type, res.text).to.equal('DPoP');
    const opaque = res.body.access_token as string;
    expect((await verifier.authenticate(`DPoP ${opaque}`, ['read'], await request({ token: opaque }))).ok).to.equal(true);
    expect(refused(await verifier.authenticate(`Bearer ${opaque}`, ['read'])).body.error_description).to.match(/bound to a key/);
  });

  it('the replay cache stays bounded and forgets expired proofs', () => {
    let now = 0;
    const cache = new BoundedReplayCache(3, () => now);
    expect(cache.firstUse('a', 100)).to.equal(true);
    expect(cache.firstUse('a', 100)).to.equal(false);
    for (const jti of ['b', 'c', 'd', 'e']) cache.firstUse(jti, 100);
    expect(cache.size).to.equal(3);
    now = 200;
    expect(cache.firstUse('e', 300), 'an expired entry is forgotten').to.equal(true);
    expect(cache.size).to.equal(1);
  });

  describe('the adapters build htm and htu from the request', () => {
    const servers: Server[] = [];
    after(async () => { for (const server of servers) await new Promise((resolve) => server.close(resolve)); });

    async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
      const port = await freePort();
      const server = createServer(handler);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return `http://127.0.0.1:${port}`;
    }

    it('koa, express and fastify accept a proof for the URL they serve, once', async () => {
      const options = { issuer: fx.app.config.issuer, resource: API, audience: [API, fx.app.config.issuer], dpop: {} };
      const koa = new Koa();
      const koaAuth = koaKeyport(options);
      koa.use(koaAuth.require('read'));
      koa.use((ctx) => { ctx.body = { sub: ctx.state.auth!.sub }; });
      const expressApp = express();
      expressApp.get('/orders', expressKeyport(options).require('read'), (req, res) => { res.json({ sub: req.auth!.sub }); });
      const fastify = Fastify();
      const fastifyAuth = fastifyKeyport(options);
      await fastify.register(fastifyAuth.plugin);
      fastify.get('/orders', { onRequest: fastifyAuth.require('read') }, async (req) => ({ sub: req.auth!.sub }));
      await fastify.ready();
      const bases = [await listen(koa.callback()), await listen(expressApp), await listen((req, res) => { fastify.routing(req, res); })];
      for (const base of bases) {
        const dpop = await proof(key, 'GET', `${base}/orders`, { ath: ath(token) });
        const ok = await fetch(`${base}/orders?x=1`, { headers: { authorization: `DPoP ${token}`, dpop } });
        expect(ok.status, `${base} ${ok.headers.get('www-authenticate')}`).to.equal(200);
        const again = await fetch(`${base}/orders`, { headers: { authorization: `DPoP ${token}`, dpop } });
        expect(again.status, base).to.equal(401);
        expect(again.headers.get('www-authenticate'), base).to.match(/^DPoP error="invalid_dpop_proof"/);
      }
      await fastify.close();
    });
  });
});
