import { expect } from 'chai';
import { IncomingMessage } from 'node:http';
import Koa from 'koa';
import { inject } from 'light-my-request';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  authenticateWithSecret,
  CLIENT_ID_METADATA_DOCUMENT_ACK,
  INITIAL_ACCESS_TOKEN_MODEL,
  initialAccessTokenPayload,
  isMetadataDocumentClient,
  engineSelfCheck,
  engineStack,
  errors,
  ExternalSigningKey,
  ignoreQueryOnResume,
  introspectionStepNames,
  KeyportSigningKey,
  onGrantTypeRegistered,
  postFormToEngine,
  Provider,
  replaceClientSecretComparison,
  replaceReplayDetection,
  switchRequestContextOffWhenIdle,
  hiddenFieldsOf,
  isUnsavedSessionFailure,
  replacedEngineStep,
  ReplayableBody,
  STRUCTURED_TOKEN_STEP,
  wrapClientFind,
  type EngineStep,
  type KoaContextWithOIDC,
} from '../../../src/oidc/engine/index.js';

/**
 * The contract between Keyport and the installed oidc-provider: one `describe` per seam in
 * src/oidc/engine/, each asserting what that seam relies on in the real engine modules. A failure
 * names the seam to update after an engine upgrade.
 */

const PINNED = '9.13.3';
const ISSUER = 'http://127.0.0.1';
const SECRET = 's'.repeat(48);
const ROUTES = { token: '/oauth/token', introspection: '/oauth/introspect', authorization: '/oauth/authorize' };
/** A JWS-shaped token (the engine decodes only its protected header). */
const JWT = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.c2ln`;

const installed = { version: engineSelfCheck.installedEngineVersion() };

/** The message every assertion carries: which engine moved what, and which seam file to update. */
function moved(what: string, file: string): string {
  return `oidc-provider ${installed.version} moved ${what}: seam in src/oidc/engine/${file} must be updated`;
}

function bareProvider(): Provider {
  return new Provider(ISSUER, {
    clients: [
      { client_id: 'svc', client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'web', client_secret: SECRET, grant_types: ['authorization_code'], redirect_uris: ['https://client.example.com/cb'], response_types: ['code'] },
    ],
    features: { clientCredentials: { enabled: true }, introspection: { enabled: true }, devInteractions: { enabled: false } },
    routes: ROUTES,
  });
}

describe('oidc: engine contract (src/oidc/engine/)', () => {
  describe('version pin and deep imports (modules.ts)', () => {
    it(`is oidc-provider ${PINNED}, as package.json pins it`, () => {
      expect(installed.version, `oidc-provider ${installed.version} is installed but ${PINNED} is pinned: re-check every seam in src/oidc/engine/ and this contract, then update the pin`).to.equal(PINNED);
    });

    it('loads the Provider class, the error classes and ExternalSigningKey from their lib/ modules', async () => {
      for (const path of engineSelfCheck.ENGINE_LIB_MODULES) {
        expect(() => engineSelfCheck.engineLibFile(path), moved(`lib/${path}`, 'modules.ts')).not.to.throw();
      }
      expect(Provider, moved('the Provider class (lib/provider.js)', 'modules.ts')).to.be.a('function');
      expect(Object.getPrototypeOf(Provider), moved('Provider, no longer a koa application', 'modules.ts')).to.equal(Koa);
      for (const name of ['OIDCProviderError', 'InvalidGrant', 'InvalidRequest', 'UnsupportedTokenType', 'SessionNotFound', 'InvalidTarget']) {
        expect((errors as unknown as Record<string, unknown>)[name], moved(`errors.${name} (lib/helpers/errors.js)`, 'modules.ts')).to.be.a('function');
      }
      expect(ExternalSigningKey, moved('ExternalSigningKey (lib/helpers/keystore.js)', 'modules.ts')).to.be.a('function');
      // The package entry exports the same classes: one engine, loaded once.
      const entry = await import('oidc-provider');
      expect(entry.default, moved('the Provider class of the package entry', 'modules.ts')).to.equal(Provider);
      expect(entry.errors.InvalidGrant, moved('the error classes of the package entry', 'modules.ts')).to.equal(errors.InvalidGrant);
    });
  });

  describe('introspection step (introspection_step.ts)', () => {
    /** The engine's own step: kept by the seam when already replaced in this process, else the array's entry. */
    function engineStep(): EngineStep | undefined {
      return replacedEngineStep() ?? engineSelfCheck.currentIntrospectionSteps().find((step) => step.name === STRUCTURED_TOKEN_STEP);
    }

    it(`has a step named ${STRUCTURED_TOKEN_STEP} after the presence check and before the answer`, () => {
      const names = introspectionStepNames();
      const replaced = replacedEngineStep() !== undefined;
      const at = replaced ? names.indexOf('introspectJwtOrContinue') : names.indexOf(STRUCTURED_TOKEN_STEP);
      expect(at, moved(`the ${STRUCTURED_TOKEN_STEP} step of lib/actions/introspection.js`, 'introspection_step.ts')).to.be.greaterThan(-1);
      expect(names.indexOf('validateTokenPresence'), moved('validateTokenPresence (no longer before the replaced step)', 'introspection_step.ts')).to.be.within(0, at - 1);
      expect(names.at(-1), moved('renderTokenResponse (no longer the last step)', 'introspection_step.ts')).to.equal('renderTokenResponse');
      if (replaced) expect(replacedEngineStep()!.name, moved('the replaced step', 'introspection_step.ts')).to.equal(STRUCTURED_TOKEN_STEP);
      expect(engineStep(), moved(`the ${STRUCTURED_TOKEN_STEP} step`, 'introspection_step.ts')).to.be.a('function');
    });

    it(`whose engine version throws UnsupportedTokenType for a JWT and continues for anything else`, async () => {
      const step = engineStep()!;
      const ctx = (token: string) => ({ oidc: { params: { token }, route: 'introspection' } }) as unknown as KoaContextWithOIDC;
      let continued = false;
      await step(ctx('opaque-token'), async () => { continued = true; });
      expect(continued, moved(`what ${STRUCTURED_TOKEN_STEP} does with an opaque token`, 'introspection_step.ts')).to.equal(true);
      let thrown: unknown;
      try {
        await step(ctx(JWT), async () => {});
      } catch (err) {
        thrown = err;
      }
      // Keyport's replacement (../structured_tokens.ts) answers a token this step throws for as Keyport's own, and
      // JWT revocation (the same shared step in the revocation endpoint) listens for this error.
      expect(thrown, moved(`what ${STRUCTURED_TOKEN_STEP} throws for a JWT (../structured_tokens.ts catches UnsupportedTokenType)`, 'introspection_step.ts')).to.be.instanceOf(errors.UnsupportedTokenType);
    });
  });

  describe('body replay (body_replay.ts)', () => {
    it('finds `readable` and `iterator` on IncomingMessage as accessors/methods it can shadow per request', () => {
      let proto: object | null = IncomingMessage.prototype;
      const found: Record<string, PropertyDescriptor | undefined> = {};
      while (proto && (!found.readable || !found.iterator)) {
        found.readable ??= Object.getOwnPropertyDescriptor(proto, 'readable');
        found.iterator ??= Object.getOwnPropertyDescriptor(proto, 'iterator');
        proto = Object.getPrototypeOf(proto);
      }
      expect(found.readable?.get, 'node moved IncomingMessage#readable: seam in src/oidc/engine/body_replay.ts must be updated').to.be.a('function');
      expect(found.iterator?.value, 'node moved IncomingMessage#iterator: seam in src/oidc/engine/body_replay.ts must be updated').to.be.a('function');
    });

    it('lets the engine read a body Keyport read first, without its "already parsed" fallback', async () => {
      const source = engineSelfCheck.engineLibSource('shared/selective_body.js');
      expect(source, moved('its body reader (lib/shared/selective_body.js no longer checks req.readable)', 'body_replay.ts')).to.include('ctx.req.readable');
      expect(source, moved('its body reader (lib/shared/selective_body.js no longer reads req.iterator)', 'body_replay.ts')).to.include('req.iterator({ destroyOnReturn: false })');

      const FORM = `token=opaque-token&client_id=svc&client_secret=${SECRET}`;
      const provider = bareProvider();
      let text: string | undefined;
      provider.use(async (ctx, next) => {
        if (ctx.path === ROUTES.introspection) {
          const body = await ReplayableBody.read(ctx.req);
          text = body.text();
          body.replay();
        }
        await next();
      });
      const res = await inject(provider.callback(), {
        method: 'POST', url: ROUTES.introspection, payload: FORM,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(text).to.equal(FORM);
      // The engine parsed the replayed body: it authenticated the client and looked the token up.
      expect(res.statusCode, moved('how it reads a replayed body', 'body_replay.ts')).to.equal(200);
      expect(res.json(), moved('how it reads a replayed body', 'body_replay.ts')).to.deep.equal({ active: false });
    });
  });

  describe('in-process dispatch (in_process_dispatch.ts)', () => {
    it('runs a form POST through provider.callback() with the caller\'s address and protocol', async () => {
      const provider = bareProvider();
      provider.proxy = false;
      let seen: { ip: string; secure: boolean; req: unknown } | undefined;
      provider.use(async (ctx, next) => {
        seen = { ip: ctx.ip, secure: ctx.secure, req: ctx.req };
        await next();
      });
      let marked: object | undefined;
      const answer = await postFormToEngine(provider, ROUTES.token, { grant_type: 'client_credentials', client_id: 'svc', client_secret: SECRET }, { ip: '198.51.100.7', host: 'auth.example.com', secure: true }, (req) => { marked = req; });
      expect(answer.status, moved('its koa callback (client credentials through provider.callback())', 'in_process_dispatch.ts')).to.equal(200);
      expect(answer.body.access_token, moved('its token answer', 'in_process_dispatch.ts')).to.be.a('string');
      expect(seen, moved('its koa context (ctx.ip, ctx.secure)', 'in_process_dispatch.ts')).to.deep.include({ ip: '198.51.100.7', secure: true });
      expect(seen!.req, moved('ctx.req (no longer the dispatched request object)', 'in_process_dispatch.ts')).to.equal(marked);

      const refused = await postFormToEngine(provider, ROUTES.token, { grant_type: 'refresh_token', client_id: 'svc', client_secret: SECRET, refresh_token: 'unknown' }, { ip: '198.51.100.7', host: 'auth.example.com', secure: false });
      expect(refused.status, moved('its error answer', 'in_process_dispatch.ts')).to.equal(400);
      expect(refused.body.error, moved('its error answer', 'in_process_dispatch.ts')).to.be.a('string');
    });
  });

  describe('request context (request_context.ts)', () => {
    const { requestContextEnabled } = engineSelfCheck;
    const origin = { host: 'auth.example.com', secure: false };
    /** The client_id of the request whose context `Provider.ctx` is now (the engine's AsyncLocalStorage). */
    const contextClient = (): unknown => (Provider as unknown as { ctx?: KoaContextWithOIDC }).ctx?.oidc?.params?.client_id;

    it('keeps each engine request in its own context while any runs, and switches the storage off once none does', async () => {
      switchRequestContextOffWhenIdle();
      switchRequestContextOffWhenIdle(); // idempotent: wrapped once
      const provider = bareProvider();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const seen: Array<{ id: string; context: unknown; enabled: boolean | undefined }> = [];
      // Client authentication runs inside the engine's request (after its `run`): a lookup of `web` waits for the gate.
      wrapClientFind(provider, async (id, find) => {
        if (id === 'web') await gate;
        seen.push({ id, context: contextClient(), enabled: requestContextEnabled() });
        return find(id);
      });

      const slow = postFormToEngine(provider, ROUTES.token, { grant_type: 'client_credentials', client_id: 'web', client_secret: SECRET }, origin);
      const fast = await postFormToEngine(provider, ROUTES.token, { grant_type: 'client_credentials', client_id: 'svc', client_secret: SECRET }, origin);
      expect(fast.status, moved('client credentials through the engine', 'request_context.ts')).to.equal(200);
      expect(seen[0], moved('its request context (lib/helpers/als.js, run in lib/helpers/initialize_app.js) as Provider.ctx', 'request_context.ts')).to.deep.include({ id: 'svc', context: 'svc' });
      // `web` is still inside the engine: the storage stays on for it after `svc` ended.
      if (requestContextEnabled() !== undefined) expect(requestContextEnabled(), 'switched off while a request still ran').to.equal(true);
      release();
      const refused = await slow;
      // `web` authenticates otherwise (client_secret_basic): refused, after its lookup.
      expect(refused.status).to.equal(400);
      expect(seen[1], 'a request that outlived another kept its own context').to.deep.include({ id: 'web', context: 'web' });

      // None runs: no context, and on Node's async_hooks implementation the storage (and with it the promise hook) is off.
      expect(contextClient()).to.equal(undefined);
      if (requestContextEnabled() !== undefined) expect(requestContextEnabled(), moved('AsyncLocalStorage#run after #disable (no longer re-enables)', 'request_context.ts')).to.equal(false);
      // The next engine request turns it on again for itself.
      const again = await postFormToEngine(provider, ROUTES.token, { grant_type: 'client_credentials', client_id: 'svc', client_secret: SECRET }, origin);
      expect(again.status).to.equal(200);
      expect(seen[2], moved('its request context after the storage was disabled once', 'request_context.ts')).to.deep.include({ id: 'svc', context: 'svc' });
      if (seen[2]!.enabled !== undefined) expect(seen[2]!.enabled).to.equal(true);
    });

    it('a request that fails inside the engine still ends its count', async () => {
      switchRequestContextOffWhenIdle();
      const provider = bareProvider();
      wrapClientFind(provider, async () => { throw new Error('client store down'); });
      const failed = await postFormToEngine(provider, ROUTES.token, { grant_type: 'client_credentials', client_id: 'svc', client_secret: SECRET }, origin);
      expect(failed.status).to.equal(500);
      expect(contextClient()).to.equal(undefined);
      if (requestContextEnabled() !== undefined) expect(requestContextEnabled()).to.equal(false);
    });
  });

  describe('client model (client_lookup.ts)', () => {
    it('has a per-provider Client.find the engine calls for client authentication, and the secret methods on its instances', async () => {
      const provider = bareProvider();
      const { Client } = provider;
      expect(Object.hasOwn(Client, 'find') || typeof Client.find === 'function', moved('Client.find (lib/models/client.js)', 'client_lookup.ts')).to.equal(true);
      expect(bareProvider().Client, moved('Client (no longer a class per provider)', 'client_lookup.ts')).not.to.equal(Client);
      for (const method of ['compareClientSecret', 'checkClientSecretExpiration']) {
        expect((Client.prototype as unknown as Record<string, unknown>)[method], moved(`Client#${method}`, 'client_lookup.ts')).to.be.a('function');
      }

      const looked: string[] = [];
      wrapClientFind(provider, async (id, find) => {
        looked.push(id);
        return find(id);
      });
      const compared: Array<[string | undefined, string]> = [];
      replaceClientSecretComparison(provider, (stored, actual) => {
        compared.push([stored, actual]);
        return actual === 'presented';
      });
      const answer = await postFormToEngine(provider, ROUTES.token, { grant_type: 'client_credentials', client_id: 'svc', client_secret: 'presented' }, { host: 'auth.example.com', secure: false });
      expect(looked, moved('client authentication (no longer through Client.find)', 'client_lookup.ts')).to.include('svc');
      expect(compared, moved('client secret authentication (no longer through Client#compareClientSecret(actual))', 'client_lookup.ts')).to.deep.equal([[SECRET, 'presented']]);
      expect(answer.status, moved('client authentication with a replaced secret comparison', 'client_lookup.ts')).to.equal(200);

      expect((await authenticateWithSecret(provider, 'svc', 'presented'))?.clientId, moved('Client#checkClientSecretExpiration or #compareClientSecret', 'client_lookup.ts')).to.equal('svc');
      expect(await authenticateWithSecret(provider, 'svc', 'wrong')).to.equal(undefined);
    });
  });

  describe('koa stack on Keyport\'s context (mount.ts)', () => {
    it('runs provider.middleware on a foreign koa context, including middleware added later with provider.use()', async () => {
      const provider = bareProvider();
      expect(provider.middleware, moved('provider.middleware (the koa stack)', 'mount.ts')).to.be.an('array').that.is.not.empty;
      const app = new Koa();
      app.use(engineStack(provider) as Koa.Middleware);
      app.use((ctx) => { ctx.body = 'keyport'; });
      const discovery = await inject(app.callback(), { method: 'GET', url: '/.well-known/openid-configuration' });
      expect(discovery.statusCode, moved('discovery through its koa stack on another app\'s context', 'mount.ts')).to.equal(200);
      expect(discovery.json().issuer).to.equal(ISSUER);
      const other = await inject(app.callback(), { method: 'GET', url: '/not-the-engine' });
      expect(other.payload, moved('how its stack hands unknown paths on (next)', 'mount.ts')).to.equal('keyport');

      provider.use(async (ctx, next) => {
        await next();
        ctx.set('x-added-later', 'yes');
      });
      const again = await inject(app.callback(), { method: 'GET', url: '/.well-known/openid-configuration' });
      expect(again.headers['x-added-later'], moved('provider.use() (no longer adds to provider.middleware)', 'mount.ts')).to.equal('yes');
    });
  });

  describe('grant types (grant_types.ts)', () => {
    it('sees grant types registered through provider.registerGrantType', async () => {
      const provider = bareProvider();
      const names: string[] = [];
      onGrantTypeRegistered(provider, (name) => names.push(name));
      provider.registerGrantType('urn:test:contract', async (ctx) => { ctx.body = { access_token: 'x', token_type: 'Bearer' }; });
      expect(names).to.deep.equal(['urn:test:contract']);
      // The engine registered it (the wrapper passed it on): the token endpoint knows the grant and
      // only refuses it for a client not registered for it (not `unsupported_grant_type`).
      const answer = await postFormToEngine(provider, ROUTES.token, { grant_type: 'urn:test:contract', client_id: 'svc', client_secret: SECRET }, { host: 'auth.example.com', secure: false });
      expect(answer.body.error, moved('registerGrantType', 'grant_types.ts')).to.be.a('string').and.not.equal('unsupported_grant_type');
    });
  });

  describe('external signing key (external_signing_key.ts)', () => {
    it('sets kid and alg through ExternalSigningKey\'s setters', () => {
      for (const property of ['kid', 'alg']) {
        const descriptor = Object.getOwnPropertyDescriptor(ExternalSigningKey.prototype, property);
        expect(descriptor?.set, moved(`ExternalSigningKey#${property} (no setter)`, 'external_signing_key.ts')).to.be.a('function');
      }
      class Probe extends KeyportSigningKey {}
      const key = new Probe('kid-1', 'ES256');
      expect({ kid: key.kid, alg: key.alg }, moved('ExternalSigningKey#kid/#alg', 'external_signing_key.ts')).to.deep.equal({ kid: 'kid-1', alg: 'ES256' });
      expect(key, moved('ExternalSigningKey', 'external_signing_key.ts')).to.be.instanceOf(ExternalSigningKey);
    });
  });

  describe('clients without prior registration (clients_without_registration.ts)', () => {
    it('accepts the metadata-document feature with its ack and marks the clients it builds from a document', async () => {
      const url = 'https://app.example.com/client.json';
      const document = { client_id: url, client_name: 'Doc client', redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'none' };
      const provider = new Provider(ISSUER, {
        clients: [{ client_id: 'web', client_secret: SECRET, grant_types: ['authorization_code'], redirect_uris: ['https://client.example.com/cb'], response_types: ['code'] }],
        features: { devInteractions: { enabled: false }, clientIdMetadataDocument: { enabled: true, ack: CLIENT_ID_METADATA_DOCUMENT_ACK } as never },
        fetch: async () => new Response(JSON.stringify(document), { status: 200, headers: { 'content-type': 'application/json' } }),
        routes: ROUTES,
      });
      const client = await provider.Client.find(url);
      expect(client?.clientId, moved('client ID metadata document resolution in Client.find', 'clients_without_registration.ts')).to.equal(url);
      expect(isMetadataDocumentClient(client), moved('the clientIdMetadataDocument marker of metadata-document clients', 'clients_without_registration.ts')).to.equal(true);
      expect(isMetadataDocumentClient(await provider.Client.find('web')), moved('the clientIdMetadataDocument marker (static clients must not carry it)', 'clients_without_registration.ts')).to.equal(false);
    });

    it('finds an initial access token stored through the adapter in Keyport\'s shape', async () => {
      const provider = new Provider(ISSUER, { features: { devInteractions: { enabled: false }, registration: { enabled: true, initialAccessToken: true } }, routes: ROUTES });
      const now = Math.floor(Date.now() / 1000);
      const model = (provider as unknown as Record<string, { adapter: { upsert(id: string, payload: object, ttl: number): Promise<void> }; find(value: string): Promise<unknown> }>)[INITIAL_ACCESS_TOKEN_MODEL]!;
      await model.adapter.upsert('t'.repeat(43), initialAccessTokenPayload('t'.repeat(43), now, now + 60), 60);
      expect(await model.find('t'.repeat(43)), moved('the stored shape of InitialAccessToken', 'clients_without_registration.ts')).to.not.equal(undefined);
      await model.adapter.upsert('e'.repeat(43), initialAccessTokenPayload('e'.repeat(43), now - 120, now - 60), 60);
      expect(await model.find('e'.repeat(43)), moved('the expiry check of InitialAccessToken', 'clients_without_registration.ts')).to.equal(undefined);
    });
  });

  describe('resume route query (resume_query.ts)', () => {
    const resume = (provider: Provider) => inject(provider.callback(), { method: 'GET', url: `${ROUTES.authorization}/unknown-uid?client_id=web&response_type=code` });

    it('serves the resume route under the authorization path; with the seam an unknown uid is the engine\'s 400', async () => {
      const provider = bareProvider();
      ignoreQueryOnResume(provider, ROUTES.authorization);
      const res = await resume(provider);
      expect(res.statusCode, moved(`the resume route (${ROUTES.authorization}/:uid)`, 'resume_query.ts')).to.equal(400);
    });

    it('still fails with a 500 without the seam (when this fails, the engine fixed it: the seam may go)', async () => {
      expect(engineSelfCheck.engineLibSource('shared/authorization_error_handler.js'), moved('the authorization error handler\'s recovery (oneRedirectUriClients)', 'resume_query.ts')).to.include('oneRedirectUriClients');
      const provider = bareProvider();
      provider.silent = true; // koa would print the TypeError's stack
      const res = await resume(provider);
      expect(res.statusCode, `oidc-provider ${installed.version} no longer fails on the resume route's query: seam in src/oidc/engine/resume_query.ts may be removed`).to.equal(500);
    });
  });
  describe('one-time-use check (replay_detection.ts)', () => {
    async function dpopProof(htu: string, jti: string): Promise<string> {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      return new SignJWT({ htm: 'POST', htu, jti }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) }).setIssuedAt().sign(privateKey);
    }
    const tokenRequest = async (provider: Provider, dpop: string) => inject(provider.callback(), {
      method: 'POST', url: ROUTES.token, headers: { 'content-type': 'application/x-www-form-urlencoded', host: '127.0.0.1', dpop },
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'svc', client_secret: SECRET }).toString(),
    });

    it('the engine asks ReplayDetection.unique(client id, jti, exp) for a DPoP proof, and refuses when it says false', async () => {
      for (const module of ['helpers/validate_dpop.js', 'shared/jwt_client_auth.js']) {
        expect(engineSelfCheck.engineLibSource(module), moved(`the replay check in ${module}`, 'replay_detection.ts')).to.include('ReplayDetection.unique(');
      }
      const provider = bareProvider();
      const calls: Array<[string, string, number]> = [];
      let answer = true;
      replaceReplayDetection(provider, async (iss, jti, exp) => { calls.push([iss, jti, exp]); return answer; });
      const jti = randomUUID();
      const first = await tokenRequest(provider, await dpopProof(`${ISSUER}${ROUTES.token}`, jti));
      expect(first.statusCode, first.body).to.equal(200);
      expect(JSON.parse(first.body).token_type, moved('DPoP binding at the token endpoint', 'replay_detection.ts')).to.equal('DPoP');
      expect(calls, moved('ReplayDetection.unique(iss, jti, exp)', 'replay_detection.ts')).to.have.length(1);
      expect(calls[0]![0]).to.equal('svc');
      expect(calls[0]![1]).to.equal(jti);
      expect(calls[0]![2]).to.be.a('number').and.above(Date.now() / 1000);
      answer = false;
      const replay = await tokenRequest(provider, await dpopProof(`${ISSUER}${ROUTES.token}`, randomUUID()));
      expect(replay.statusCode, moved('the refusal of a replayed proof', 'replay_detection.ts')).to.equal(400);
    });
  });
  describe('device-flow forms (device_forms.ts) and the unsaved-session failure (unsaved_session.ts)', () => {
    const DEVICE_ROUTES = { ...ROUTES, device_authorization: '/oauth/device/auth', code_verification: '/oauth/device' };
    function deviceProvider(captured: { input?: string; confirm?: string; caught?: unknown }): Provider {
      const provider = new Provider(ISSUER, {
        clients: [{ client_id: 'dev', grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none', redirect_uris: [], response_types: [] }],
        features: {
          devInteractions: { enabled: false },
          deviceFlow: {
            enabled: true,
            userCodeInputSource: (ctx, form) => { captured.input = form; ctx.body = 'input'; },
            userCodeConfirmSource: (ctx, form) => { captured.confirm = form; ctx.body = 'confirm'; },
          },
        },
        routes: DEVICE_ROUTES,
      });
      provider.use(async (_ctx, next) => {
        try {
          await next();
        } catch (err) {
          captured.caught = err;
          throw err;
        }
      });
      return provider;
    }
    const form = { 'content-type': 'application/x-www-form-urlencoded', host: '127.0.0.1' };
    const cookiesOf = (setCookie: string | string[] | undefined): string => [setCookie ?? []].flat().map((cookie) => cookie.split(';')[0]).join('; ');

    it('hands the input and confirmation forms with their hidden fields: xsrf; xsrf, user_code, confirm', async () => {
      const captured: { input?: string; confirm?: string } = {};
      const provider = deviceProvider(captured);
      const started = await inject(provider.callback(), { method: 'POST', url: DEVICE_ROUTES.device_authorization, headers: form, payload: 'client_id=dev' });
      const userCode = JSON.parse(started.body).user_code as string;
      const page = await inject(provider.callback(), { method: 'GET', url: DEVICE_ROUTES.code_verification, headers: { host: '127.0.0.1' } });
      const inputFields = hiddenFieldsOf(captured.input ?? '');
      expect(inputFields.map((field) => field.name), moved('the device input form\'s hidden fields', 'device_forms.ts')).to.deep.equal(['xsrf']);
      const xsrf = inputFields[0]!.value;
      const confirm = await inject(provider.callback(), {
        method: 'POST', url: DEVICE_ROUTES.code_verification, headers: { ...form, cookie: cookiesOf(page.headers['set-cookie']) },
        payload: new URLSearchParams({ xsrf, user_code: userCode }).toString(),
      });
      expect(confirm.body, moved('the confirmation source', 'device_forms.ts')).to.equal('confirm');
      expect(hiddenFieldsOf(captured.confirm ?? ''), moved('the confirmation form\'s hidden fields', 'device_forms.ts')).to.deep.equal([
        { name: 'xsrf', value: xsrf }, { name: 'user_code', value: userCode }, { name: 'confirm', value: 'yes' },
      ]);
    });

    it('still fails with a 500 on a form posted without a session (when this fails, the engine fixed it: the seam may go)', async () => {
      const captured: { caught?: unknown } = {};
      const provider = deviceProvider(captured);
      provider.silent = true;
      const res = await inject(provider.callback(), { method: 'POST', url: DEVICE_ROUTES.code_verification, headers: form, payload: 'user_code=BCDF-GHJK' });
      expect(res.statusCode, `oidc-provider ${installed.version} no longer fails on a device form without a session: seam in src/oidc/engine/unsaved_session.ts may be removed`).to.equal(500);
      expect(isUnsavedSessionFailure(captured.caught), moved('the unsaved-session TypeError', 'unsaved_session.ts')).to.equal(true);
      const resume = await inject(provider.callback(), { method: 'GET', url: `${DEVICE_ROUTES.code_verification}/unknown-uid`, headers: { host: '127.0.0.1' } });
      expect(resume.statusCode, 'the resume route with an unknown uid fails the same way').to.equal(500);
      expect(isUnsavedSessionFailure(captured.caught)).to.equal(true);
    });
  });
});
