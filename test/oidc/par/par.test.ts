import { expect } from 'chai';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import type { TestApp } from '../../support/app.js';
import { client, createUser, discover, REDIRECT_URI, registerClient, signInThroughPages, startOidcApp, type RegisteredClient } from '../support.js';

/**
 * Pushed authorization requests (RFC 9126) with openid-client: served for every client, required
 * for a client registered with `--require-par`, or for all with PAR_REQUIRED. Combined with DPoP,
 * the code is bound to the key (`dpop_jkt`) and so is the token.
 */
async function codeFlowWithPar(app: TestApp, registered: RegisteredClient, user: { email: string; password: string }, usePar: boolean, dpop?: client.DPoPHandle) {
  const config = await discover(app, registered);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const parameters = { redirect_uri: REDIRECT_URI, scope: 'read', state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', prompt: 'consent' };
  const url = usePar ? await client.buildAuthorizationUrlWithPAR(config, parameters, dpop ? { DPoP: dpop } : undefined) : client.buildAuthorizationUrl(config, parameters);
  const callback = await signInThroughPages(app, url, user);
  return { config, callback, verifier, state, url };
}

describe('oidc: pushed authorization requests (RFC 9126)', () => {
  let app: TestApp;
  let web: RegisteredClient;
  let strict: RegisteredClient;
  let user: { email: string; password: string };

  before(async () => {
    app = await startOidcApp();
    web = await registerClient(app, { name: 'web', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['read'] });
    strict = await registerClient(app, { name: 'strict web', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['read'], requirePar: true });
    user = await createUser(app, 'par@example.com');
  });
  after(async () => { await app.close(); });

  it('discovery advertises the PAR endpoint, not required by default', async () => {
    const res = await app.http().get('/.well-known/openid-configuration').expect(200);
    expect(res.body.pushed_authorization_request_endpoint).to.equal(`${app.config.issuer}/oauth/par`);
    expect(res.body.require_pushed_authorization_requests).to.not.equal(true);
  });

  it('openid-client pushes the request, the person signs in, the code is exchanged', async () => {
    const { config, callback, verifier, state, url } = await codeFlowWithPar(app, web, user, true);
    expect(url.searchParams.get('request_uri')).to.match(/^urn:ietf:params:oauth:request_uri:/);
    expect(url.searchParams.has('redirect_uri'), 'nothing but client_id and request_uri in the front channel').to.equal(false);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.access_token).to.be.a('string');
  });

  it('a client created with --require-par is refused a plain authorization request, and served through PAR', async () => {
    const plain = await codeFlowWithPar(app, strict, user, false).catch((err: Error) => err);
    const refusal = plain instanceof Error ? plain.message : plain.callback.toString();
    expect(refusal).to.match(/invalid_request|Pushed Authorization Request/i);
    const { config, callback, verifier, state } = await codeFlowWithPar(app, strict, user, true);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.access_token).to.be.a('string');
  });

  it('PAR with DPoP: the code is bound to the key and so is the token', async () => {
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const config = await discover(app, web);
    const DPoP = client.getDPoPHandle(config, keyPair);
    const { callback, verifier, state } = await codeFlowWithPar(app, web, user, true, DPoP);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP });
    expect(tokens.token_type).to.equal('dpop');
    const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString('utf8')) as { cnf?: { jkt?: string } };
    expect(payload.cnf?.jkt).to.equal(await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)));
  });
});

describe('oidc: PAR_REQUIRED=true', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp({ env: { PAR_REQUIRED: 'true' } }); });
  after(async () => { await app.close(); });

  it('discovery says so, and a plain authorization request is refused', async () => {
    const res = await app.http().get('/.well-known/openid-configuration').expect(200);
    expect(res.body.require_pushed_authorization_requests).to.equal(true);
    const web = await registerClient(app, { name: 'web', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['read'] });
    const config = await discover(app, web);
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'read', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const answer = await app.http().get(`${url.pathname}${url.search}`);
    expect(answer.status).to.be.oneOf([302, 303, 400]);
    expect(answer.headers.location ?? answer.text).to.match(/invalid_request|Pushed/i);
  });
});
