import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { apiScopesOf } from '../../../src/oidc/configuration.js';
import { errors } from '../../../src/oidc/engine/index.js';
import { TTL } from '../../../src/oidc/policy.js';
import { mintTokens } from '../../../src/oidc/token_minter.js';
import type { TestApp } from '../../support/app.js';
import { expectOAuthError, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

// Its own grant type, account kind and claims: the real API-key exchange (src/exchange) owns
// token-exchange, `agt_` accounts and the api_key_id / session_id claims in this app.
const GRANT = 'urn:keyport:test:grant-type:demo';
const PUBLIC_CLIENT = 'keyport-test-public';

/**
 * The extension points the API-key exchange builds on: a custom grant registered through
 * extendProvider, tokens minted with Keyport's one minter (src/oidc/token_minter.ts), a built-in
 * public client, a non-user account kind, extra claims, and activity checks.
 */
describe('oidc: extension points for custom grants', () => {
  let app: TestApp;
  let resourceServer: RegisteredClient;
  before(async () => {
    app = await startOidcApp();
    const { oidc } = app.services;
    // (A stored confidential client listing the real token-exchange grant is tested in test/exchange.)
    resourceServer = await registerClient(app, { name: 'api', grantTypes: ['client_credentials'] });

    oidc.accounts.register('tst_', async (id) => (id === 'tst_demo' ? { accountId: id, claims: async () => ({ sub: id }) } : undefined));
    oidc.clients.registerBuiltIn({ client_id: PUBLIC_CLIENT, token_endpoint_auth_method: 'none', grant_types: [GRANT, 'refresh_token'], response_types: [], redirect_uris: [], keyport_api_scope: 'read write' });
    oidc.addExtraTokenClaims((_ctx, token) => ((token as { accountId?: string }).accountId === 'tst_demo' ? { demo_key_id: 'dkey_demo' } : undefined));
    oidc.extendProvider((provider) => {
      provider.registerGrantType(GRANT, async (ctx) => {
        if (ctx.oidc.params.subject_token !== 'good-key') throw new errors.InvalidGrant('subject_token is not valid');
        const client = ctx.oidc.client!;
        // The minter takes the scopes as given: the grant narrows them to those the client may receive.
        const scopes = ['read', 'admin'].filter((scope) => apiScopesOf(client).includes(scope));
        const minted = await mintTokens({
          provider: ctx.oidc.provider, signingKid: oidc.host.keyRing.signingKid, client, grantType: GRANT, accountId: 'tst_demo', scopes,
          policy: oidc.resourceServers.defaultPolicy, lifetime: app.config.tokenTtl, claims: { demo_session: 's1' }, sid: undefined, refreshLifetime: TTL.RefreshToken,
        });
        ctx.body = { access_token: minted.accessToken, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: minted.exp - minted.iat, scope: scopes.join(' '), refresh_token: minted.refreshToken };
      }, ['subject_token', 'subject_token_type', 'scope']);
    });
  });
  after(async () => { await app.close(); });

  function exchange(body: Record<string, string> = {}, auth?: RegisteredClient) {
    return postForm(app, '/oauth/token', { grant_type: GRANT, subject_token: 'good-key', subject_token_type: 'urn:keyport:params:oauth:token-type:api_key', ...(auth ? {} : { client_id: PUBLIC_CLIENT }), ...body }, auth);
  }

  it('mints engine JWTs from a custom grant, with the account as subject and extra claims', async () => {
    const res = await exchange();
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ token_type: 'Bearer', scope: 'read', expires_in: app.config.tokenTtl });
    const claims = decodeJwt(res.body.access_token);
    expect(decodeProtectedHeader(res.body.access_token).typ).to.equal('at+jwt');
    expect(claims).to.include({ sub: 'tst_demo', client_id: PUBLIC_CLIENT, scope: 'read', demo_key_id: 'dkey_demo', demo_session: 's1', aud: app.config.issuer });
    expect(claims.exp! - claims.iat!).to.equal(app.config.tokenTtl);

    const introspection = await postForm(app, '/oauth/introspect', { token: res.body.access_token }, resourceServer);
    expect(introspection.body).to.include({ active: true, sub: 'tst_demo', demo_key_id: 'dkey_demo', demo_session: 's1' });
    expect(introspection.body).not.to.have.property('gid');
  });

  it('lets the minted refresh token work at the token endpoint, rotating', async () => {
    const first = (await exchange()).body;
    const refreshed = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: PUBLIC_CLIENT });
    expect(refreshed.status, refreshed.text).to.equal(200);
    expect(refreshed.body.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
    expect(decodeJwt(refreshed.body.access_token)).to.include({ sub: 'tst_demo', demo_key_id: 'dkey_demo', scope: 'read' });
    // Reuse of the first refresh token kills the family, including the JWT just issued.
    expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: PUBLIC_CLIENT }), 'invalid_grant', 400);
    expect((await postForm(app, '/oauth/introspect', { token: refreshed.body.access_token }, resourceServer)).body).to.deep.equal({ active: false });
  });

  it('keeps the grant across a provider rebuild (signing-key rotation)', async () => {
    const rotated = await app.services.oidc.rotateSigningKey();
    await app.services.oidc.host.reload();
    const res = await exchange();
    expect(res.status, res.text).to.equal(200);
    expect(decodeProtectedHeader(res.body.access_token).kid).to.equal(rotated.kid);
  });

  it('keeps a client whose only grant was unknown at creation usable (authentication, introspection)', async () => {
    const only = await registerClient(app, { grantTypes: ['token_exchange'] });
    expect((await postForm(app, '/oauth/introspect', { token: 'unknown' }, only)).body).to.deep.equal({ active: false });
    expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'client_credentials' }, only), 'invalid_request', 400);
  });

  it('answers RFC 6749 errors from the grant handler', async () => {
    expectOAuthError(await exchange({ subject_token: 'bad' }), 'invalid_grant', 400);
    const stranger = await registerClient(app, { grantTypes: ['client_credentials'] });
    expectOAuthError(await exchange({}, stranger), 'invalid_request', 400);
  });

  it('lets revocation registry keys of other kinds (e.g. a session) revoke tokens', async () => {
    const { oidc } = app.services;
    oidc.accessTokens.addRevocationKeys((token) => (typeof token.claims.demo_session === 'string' ? [{ kind: 'demo_session', value: `${token.sub}:${token.claims.demo_session}` }] : []));
    const token = (await exchange()).body.access_token;
    expect(await oidc.accessTokens.verify(token)).not.to.equal(undefined);
    await oidc.revocations.revoke({ kind: 'demo_session', value: 'tst_demo:s1' }, new Date(Date.now() + 3_600_000));
    expect(await oidc.accessTokens.verify(token)).to.equal(undefined);
    expect((await postForm(app, '/oauth/introspect', { token }, resourceServer)).body).to.deep.equal({ active: false });
  });

  it('counts the tokens by the custom grant', async () => {
    const metrics = (await app.http().get('/metrics')).text;
    expect(metrics).to.include(`keyport_tokens_issued_total{grant="${GRANT}",kind="access_token"}`);
    expect(metrics).to.include(`keyport_tokens_issued_total{grant="${GRANT}",kind="refresh_token"}`);
  });
});
