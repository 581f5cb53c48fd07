import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { callerWith, expectError } from '../admin/support.js';
import { codeFlow, REDIRECT_URI, type CodeFlowResult } from '../oidc/support.js';
import {
  ACCESS_TOKEN_TYPE, agentKey, API_KEY_CLIENT, claimsOf, client, exchangeForm, expectOAuthError, fixture, introspect, login, postForm, registerClient, TEST_ACTOR, TOKEN_EXCHANGE,
  type ExchangeFixture,
} from './support.js';
import type { RegisteredClient } from '../oidc/support.js';

const API = 'https://api.example.com';
const ORDERS = 'https://orders.example.com';
const BILLING = 'https://billing.example.com';
const OPAQUE = 'https://legacy.example.com';

/**
 * RFC 8693 with an access token as the subject (issue 12, high): who may exchange it, that the result
 * only narrows, that it dies with its subject's family, and that no exchanged token reaches the
 * admin API.
 */
describe('exchange: access-token subjects (security)', () => {
  let fx: ExchangeFixture;
  let app: TestApp;
  /** The web app the admin user signs in to (confidential; may not exchange). */
  let web: RegisteredClient;
  /** A confidential client allowed to exchange (a gateway). */
  let gateway: RegisteredClient;
  /** A public client allowed to exchange (a SPA). */
  let spa: RegisteredClient;
  const admin = { email: 'root@example.com', password: 'correct horse battery' };

  before(async () => {
    fx = await fixture();
    app = fx.app;
    await app.services.oidc.resourceServers.create({ audience: API, format: 'jwt', scopes: ['admin', 'read', 'write'] });
    await app.services.oidc.resourceServers.create({ audience: ORDERS, format: 'jwt', scopes: ['read'], accessTokenTtl: 600 });
    await app.services.oidc.resourceServers.create({ audience: BILLING, format: 'jwt', scopes: ['billing'] });
    await app.services.oidc.resourceServers.create({ audience: OPAQUE, format: 'opaque' });
    web = await registerClient(app, { name: 'admin console', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['admin', 'read', 'write', 'offline_access'] });
    gateway = await registerClient(app, { name: 'gateway', grantTypes: ['token_exchange'], scopes: ['admin', 'read', 'write'] });
    spa = await registerClient(app, { name: 'spa', grantTypes: ['authorization_code', 'token_exchange'], redirectUris: [REDIRECT_URI], scopes: ['admin', 'read'], public: true });
    await app.services.oidc.users.create({ ...admin, isAdmin: true });
  });
  after(async () => { await app.close(); });

  /** An admin user's authorization-code login at `web`, for `resource`. */
  function adminSignIn(registered: RegisteredClient = web, resource = API, scope = 'admin read'): Promise<CodeFlowResult> {
    return codeFlow(app, registered, admin, { scope, resource, tokenResource: resource });
  }

  function exchange(subject: string, extra: Record<string, string> = {}, caller?: RegisteredClient): ReturnType<typeof postForm> {
    const auth = caller?.secret ? caller : undefined;
    return exchangeForm(app, { subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, ...(caller && !caller.secret ? { client_id: caller.id } : {}), ...extra }, auth);
  }

  async function exchanged(subject: string, extra: Record<string, string> = {}, caller?: RegisteredClient): Promise<string> {
    const res = await exchange(subject, extra, caller);
    expect(res.status, res.text).to.equal(200);
    return res.body.access_token as string;
  }

  async function active(token: string): Promise<boolean> {
    return (await introspect(fx, token)).active === true;
  }

  describe('the reported escalation', () => {
    it('a user token for another audience does not become an admin-API token through keyport-api-key', async () => {
      const { tokens } = await adminSignIn();
      const ut = tokens.access_token;
      expect(claimsOf(ut)).to.include({ aud: API });
      expect(tokens.scope?.split(' ')).to.include.members(['admin', 'read']);
      expectError(await callerWith(app, ut).get('/admin/agents'), 401, 'invalid_token');

      // The audit's request, verbatim: public client, no authentication, audience = the issuer.
      const res = await exchange(ut, { audience: app.config.issuer });
      expectOAuthError(res, 'invalid_grant', 400);
      expect(res.body.access_token).to.equal(undefined);
      // Nor without an audience: keyport-api-key may exchange only tokens minted from an API key.
      expectOAuthError(await exchange(ut), 'invalid_grant', 400);
    });

    it('a user token for the issuer does not lend its admin scope to anything exchanged from it', async () => {
      const console = await registerClient(app, { name: 'console with exchange', grantTypes: ['authorization_code', 'token_exchange'], redirectUris: [REDIRECT_URI], scopes: ['admin', 'read'] });
      const { tokens } = await adminSignIn(console, app.config.issuer);
      await callerWith(app, tokens.access_token).get('/admin/agents').expect(200);
      // Its own client may narrow it (same audience, same scopes), but the result is no admin credential.
      const narrowed = await exchanged(tokens.access_token, { scope: 'admin' }, console);
      expect(claimsOf(narrowed)).to.include({ aud: app.config.issuer, scope: 'admin' });
      expectError(await callerWith(app, narrowed).get('/admin/agents'), 403, 'insufficient_scope');
      const viaGateway = await exchanged(tokens.access_token, { scope: 'admin' }, gateway);
      expectError(await callerWith(app, viaGateway).get('/admin/agents'), 403, 'insufficient_scope');
    });
  });

  describe('who may exchange an access token', () => {
    it('invalid_grant for a public client exchanging a token issued to another client', async () => {
      const { tokens } = await adminSignIn();
      expectOAuthError(await exchange(tokens.access_token, {}, spa), 'invalid_grant', 400);
      expectOAuthError(await exchange(tokens.access_token, { scope: 'read' }), 'invalid_grant', 400);
    });

    it('invalid_grant for keyport-api-key with a user token, a client-credentials token, or a token of another client\'s key exchange', async () => {
      const svc = await registerClient(app, { name: 'svc', grantTypes: ['client_credentials', 'token_exchange'], scopes: ['read'] });
      const cc = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, svc);
      expectOAuthError(await exchange(cc.body.access_token), 'invalid_grant', 400);
      // A key exchanged by the gateway belongs to the gateway: keyport-api-key may not take it over.
      const { apiKey } = await agentKey(app);
      const viaGateway = await exchangeForm(app, { subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key' }, gateway);
      expect(viaGateway.status, viaGateway.text).to.equal(200);
      expectOAuthError(await exchange(viaGateway.body.access_token), 'invalid_grant', 400);
    });

    it('invalid_grant for a confidential client exchanging another client\'s client-credentials token', async () => {
      const svc = await registerClient(app, { name: 'svc2', grantTypes: ['client_credentials'], scopes: ['read'] });
      const cc = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read' }, svc);
      expectOAuthError(await exchange(cc.body.access_token, {}, gateway), 'invalid_grant', 400);
    });

    it('invalid_client for a confidential client that does not authenticate; unauthorized_client without the grant', async () => {
      const { tokens } = await adminSignIn();
      const wrong = await exchangeForm(app, { subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE }, { id: gateway.id, secret: 'wrong-secret' });
      expectOAuthError(wrong, 'invalid_client', 401);
      const noGrant = await exchange(tokens.access_token, {}, web);
      expect(noGrant.status, noGrant.text).to.equal(400);
      expect(noGrant.body.error).to.be.oneOf(['unauthorized_client', 'invalid_request']);
    });

    it('allows the subject\'s own client and an authenticated confidential client', async () => {
      const { apiKey } = await agentKey(app);
      const subject = (await login(app, apiKey, { session_id: 'own' })).body.access_token as string;
      expect(claimsOf(await exchanged(subject, { scope: 'read' }))).to.include({ client_id: API_KEY_CLIENT, scope: 'read' });
      const { tokens } = await adminSignIn();
      expect(claimsOf(await exchanged(tokens.access_token, { scope: 'read' }, gateway))).to.include({ client_id: gateway.id, scope: 'read', aud: API });
    });
  });

  describe('the result only narrows', () => {
    it('invalid_target for an audience the subject does not have (the issuer above all)', async () => {
      const { apiKey } = await agentKey(app);
      const subject = (await login(app, apiKey, { session_id: 'aud' })).body.access_token as string;
      // A public client: only the subject's own audience.
      expectOAuthError(await exchange(subject, { resource: ORDERS }), 'invalid_target', 400);
      expectOAuthError(await exchange(subject, { audience: 'https://unknown.example.com' }), 'invalid_target', 400);

      const { tokens } = await adminSignIn();
      expectOAuthError(await exchange(tokens.access_token, { audience: app.config.issuer }, gateway), 'invalid_target', 400);
      expectOAuthError(await exchange(tokens.access_token, { resource: app.config.issuer }, gateway), 'invalid_target', 400);
      // A confidential client may retarget to a resource server the subject's client may use…
      expect(claimsOf(await exchanged(tokens.access_token, { resource: ORDERS }, gateway))).to.include({ aud: ORDERS, scope: 'read' });
      // …but not to one it may not (web holds no `billing`), nor to an unknown one.
      expectOAuthError(await exchange(tokens.access_token, { resource: BILLING }, gateway), 'invalid_target', 400);
      expectOAuthError(await exchange(tokens.access_token, { resource: 'https://unknown.example.com' }, gateway), 'invalid_target', 400);
    });

    it('invalid_scope for scopes the subject does not hold', async () => {
      const { apiKey } = await agentKey(app, { scopes: ['read', 'write'] });
      const subject = (await login(app, apiKey, { session_id: 'scopes', scope: 'read' })).body.access_token as string;
      expectOAuthError(await exchange(subject, { scope: 'read write' }), 'invalid_scope', 400);
      expectOAuthError(await exchange(subject, { scope: 'admin' }), 'invalid_scope', 400);
      const { tokens } = await adminSignIn(web, API, 'read');
      expectOAuthError(await exchange(tokens.access_token, { scope: 'admin' }, gateway), 'invalid_scope', 400);
    });

    it('never outlives its subject, even for an audience whose tokens live longer', async () => {
      const { tokens } = await adminSignIn(web, ORDERS, 'read');
      const subject = claimsOf(tokens.access_token);
      expect((subject.exp as number) - (subject.iat as number)).to.equal(600);
      const before = Math.floor(Date.now() / 1000);
      const res = await exchange(tokens.access_token, { resource: API }, gateway);
      expect(res.status, res.text).to.equal(200);
      const derived = claimsOf(res.body.access_token as string);
      expect(derived.aud).to.equal(API);
      expect(derived.exp).to.be.at.most(subject.exp as number);
      expect(res.body.expires_in).to.be.at.most((subject.exp as number) - before);
      expect(res.body.refresh_token).to.equal(undefined);
    });

    it('bounds chains of exchanges (invalid_grant after five)', async () => {
      const { apiKey } = await agentKey(app);
      let token = (await login(app, apiKey, { session_id: 'chain' })).body.access_token as string;
      for (let depth = 1; depth <= 5; depth += 1) {
        token = await exchanged(token);
        expect(claimsOf(token).exchanged_from).to.have.length(depth);
      }
      expectOAuthError(await exchange(token), 'invalid_grant', 400);
    });
  });

  describe('the exchanged token joins its subject\'s family', () => {
    it('a user\'s authorization-code token: revoking the subject ends every token derived from it', async () => {
      const { tokens } = await adminSignIn(web, API, 'admin read offline_access');
      const sameAudience = await exchanged(tokens.access_token, { scope: 'read' }, gateway);
      const elsewhere = await exchanged(tokens.access_token, { resource: ORDERS }, gateway);
      const further = await exchanged(sameAudience, {}, gateway);
      expect(claimsOf(sameAudience).exchanged_from).to.deep.equal([{ token: (claimsOf(sameAudience).exchanged_from as Array<{ token: string }>)[0]!.token, client_id: web.id, gid: claimsOf(tokens.access_token).gid }]);
      for (const token of [sameAudience, elsewhere, further]) expect(await active(token)).to.equal(true);

      await postForm(app, '/oauth/revoke', { token: tokens.access_token }, web).expect(200);
      expect(await active(tokens.access_token)).to.equal(false);
      for (const token of [sameAudience, elsewhere, further]) expect(await active(token), 'derived token').to.equal(false);
    });

    it('a user\'s refresh-token family: reuse detection ends the derived tokens too', async () => {
      const { tokens, config } = await adminSignIn(web, API, 'admin read offline_access');
      const derived = await exchanged(tokens.access_token, { scope: 'read' }, gateway);
      const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!, { resource: API });
      expect(rotated.refresh_token).to.be.a('string');
      expect(await active(derived)).to.equal(true);
      const replay = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, web);
      expectOAuthError(replay, 'invalid_grant', 400);
      expect(await active(derived)).to.equal(false);
    });

    it('a client-credentials token (no grant): revoking it ends the tokens derived from it, JWT and opaque', async () => {
      const svc = await registerClient(app, { name: 'svc-family', grantTypes: ['client_credentials', 'token_exchange'], scopes: ['read', 'write'] });
      const jwt = (await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read write' }, svc)).body.access_token as string;
      const child = await exchanged(jwt, { scope: 'read' }, svc);
      const grandchild = await exchanged(child, {}, svc);
      expect(await active(grandchild)).to.equal(true);
      await postForm(app, '/oauth/revoke', { token: jwt }, svc).expect(200);
      expect(await active(child)).to.equal(false);
      expect(await active(grandchild)).to.equal(false);

      const opaque = (await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read', resource: OPAQUE }, svc)).body.access_token as string;
      expect(opaque.split('.')).to.have.length(1);
      const fromOpaque = await exchanged(opaque, {}, svc);
      expect(fromOpaque.split('.')).to.have.length(1);
      // The opaque subject's value never appears in what was derived from it.
      expect(JSON.stringify(await introspect(fx, fromOpaque))).not.to.include(opaque);
      expect(await active(fromOpaque)).to.equal(true);
      await postForm(app, '/oauth/revoke', { token: opaque }, svc).expect(200);
      expect(await active(fromOpaque)).to.equal(false);
    });

    it('revoking a derived token ends what was derived from it, not its subject', async () => {
      const { apiKey } = await agentKey(app);
      const root = (await login(app, apiKey, { session_id: 'middle' })).body.access_token as string;
      const middle = await exchanged(root, { scope: 'read' }, gateway);
      const leaf = await exchanged(middle, {}, gateway);
      await postForm(app, '/oauth/revoke', { token: middle }, gateway).expect(200);
      expect(await active(middle)).to.equal(false);
      expect(await active(leaf)).to.equal(false);
      expect(await active(root)).to.equal(true);
    });

    it('an API-key token: ending its session, revoking its key or its agent ends the derived tokens', async () => {
      const { apiKey, key, agent } = await agentKey(app);
      const bySession = (await login(app, apiKey, { session_id: 'to-end' })).body.access_token as string;
      const fromSession = [await exchanged(bySession, { scope: 'read' }), await exchanged(bySession, { scope: 'read' }, gateway)];
      await app.http().delete('/auth/sessions/to-end').set('X-API-Key', apiKey).expect(204);
      for (const token of fromSession) expect(await active(token)).to.equal(false);

      const byKey = (await login(app, apiKey, { session_id: 'key' })).body.access_token as string;
      const fromKey = await exchanged(byKey, { scope: 'read' }, gateway);
      expect(await active(fromKey)).to.equal(true);
      await app.services.keys.apiKeys.revoke(key.id, TEST_ACTOR);
      expect(await active(fromKey)).to.equal(false);

      const other = await agentKey(app);
      const byAgent = (await login(app, other.apiKey, { session_id: 'agent' })).body.access_token as string;
      const fromAgent = await exchanged(byAgent, {}, gateway);
      await app.services.keys.agents.revoke(other.agent.id, TEST_ACTOR);
      expect(await active(fromAgent)).to.equal(false);
      expect(agent.id).to.be.a('string');
    });

    it('deleting the subject\'s client ends the tokens other clients derived from its tokens', async () => {
      const doomed = await registerClient(app, { name: 'doomed', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['read'] });
      const { tokens } = await adminSignIn(doomed, API, 'read');
      const derived = await exchanged(tokens.access_token, {}, gateway);
      expect(await active(derived)).to.equal(true);
      await app.services.oidc.clients.delete(doomed.id);
      expect(await active(derived)).to.equal(false);
    });
  });

  it('openid-client drives the allowed exchange end to end', async () => {
    const { tokens } = await adminSignIn();
    const config = await client.discovery(new URL(app.config.issuer), gateway.id, undefined, client.ClientSecretBasic(gateway.secret!), { execute: [client.allowInsecureRequests] });
    const result = await client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE, scope: 'read' });
    expect(result).to.include({ issued_token_type: ACCESS_TOKEN_TYPE, scope: 'read' });
  });
});
