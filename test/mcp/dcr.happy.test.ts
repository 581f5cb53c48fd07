import { expect } from 'chai';
import { auth, discoverAuthorizationServerMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import type { TestApp } from '../support/app.js';
import { createUser, REDIRECT_URI } from '../oidc/support.js';
import { issueInitialAccessToken } from '../../src/oidc/registration.js';
import { callMcp, MemoryClientProvider, startMcpKeyport, startMcpServer, userApproves, type McpServer } from './support.js';

describe('mcp: dynamic client registration (REGISTRATION_POLICY=open-public), driven by the MCP TypeScript SDK', () => {
  let app: TestApp;
  let mcp: McpServer;
  let user: { email: string; password: string };

  before(async () => {
    app = await startMcpKeyport({ env: { REGISTRATION_POLICY: 'open-public', CIMD_ENABLED: 'false' } });
    mcp = await startMcpServer(app, { scopes: ['mcp:tools'] });
    await app.services.oidc.resourceServers.create({ audience: mcp.url, format: 'jwt', scopes: ['mcp:tools'] });
    user = await createUser(app);
  });
  after(async () => {
    await mcp?.close();
    await app?.close();
  });

  it('advertises the registration endpoint and not metadata documents', async () => {
    const metadata = await discoverAuthorizationServerMetadata(app.config.issuer);
    expect(metadata!.registration_endpoint).to.equal(`${app.config.issuer}/oauth/register`);
    expect(metadata).not.to.have.property('client_id_metadata_document_supported');
  });

  it('registers, signs the user in and gets a token for the MCP server', async () => {
    const provider = new MemoryClientProvider(undefined);
    expect(await auth(provider, { serverUrl: mcp.url })).to.equal('REDIRECT');
    const clientId = provider.information!.client_id;
    expect(clientId).to.match(/^dcr_/);
    expect(provider.information).not.to.have.property('client_secret');

    const code = await userApproves(app, provider, user);
    expect(await auth(provider, { serverUrl: mcp.url, authorizationCode: code })).to.equal('AUTHORIZED');
    const token = provider.savedTokens!.access_token;
    expect(decodeJwt(token)).to.include({ aud: mcp.url, client_id: clientId, scope: 'mcp:tools' });
    expect((await callMcp(mcp, token)).status).to.equal(200);

    const row = await app.services.oidc.clients.get(clientId);
    expect(row).to.include({ registration: 'dynamic', tokenEndpointAuthMethod: 'none', secretHash: null, name: 'Example MCP Client' });
    expect(row!.redirectUris).to.deep.equal([REDIRECT_URI]);
    // No API scopes of its own: the resource's scopes bound it, consent decided.
    expect(row!.scope).to.equal('');
    expect(row!.expiresAt!.getTime() - row!.createdAt.getTime()).to.equal(90 * 86_400_000);
  });

  it('lets the client read and delete its registration with the registration access token (RFC 7592), ending its tokens', async () => {
    const registered = await app.http().post('/oauth/register').send({ client_name: 'Short-lived', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
    expect(registered.status, registered.text).to.equal(201);
    const { client_id: clientId, registration_access_token: rat, registration_client_uri: uri } = registered.body;
    expect(uri).to.equal(`${app.config.issuer}/oauth/register/${clientId}`);
    const path = new URL(uri).pathname;
    const read = await app.http().get(path).set('Authorization', `Bearer ${rat}`);
    expect(read.status, read.text).to.equal(200);
    expect(read.body).to.include({ client_id: clientId, client_name: 'Short-lived' });
    expect((await app.http().get(path).set('Authorization', 'Bearer wrong')).status).to.equal(401);
    expect((await app.http().delete(path).set('Authorization', `Bearer ${rat}`)).status).to.equal(204);
    expect(await app.services.oidc.clients.get(clientId)).to.equal(undefined);
  });

  it('accepts a native client with a loopback redirect URI', async () => {
    const registered = await app.http().post('/oauth/register').send({ client_name: 'CLI agent', redirect_uris: ['http://127.0.0.1:33418/callback'], token_endpoint_auth_method: 'none' });
    expect(registered.status, registered.text).to.equal(201);
    expect(registered.body.redirect_uris).to.deep.equal(['http://127.0.0.1:33418/callback']);
  });

  it('an expired registration is an unknown client', async () => {
    const registered = await app.http().post('/oauth/register').send({ client_name: 'Expiring', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });
    const clientId = registered.body.client_id as string;
    const row = (await app.services.oidc.clients.get(clientId))!;
    await app.services.database.dataSource.getRepository('OAuthClient').update({ id: clientId }, { expiresAt: new Date(Date.now() - 1000) });
    await app.services.bus.publish('keyport.clients', clientId);
    const res = await app.http().get('/oauth/authorize').query({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', scope: 'openid' });
    expect(res.status).to.equal(400);
    expect(res.text).to.match(/invalid_client/);
    expect(row.registration).to.equal('dynamic');
    expect(await app.services.oidc.clients.deleteExpiredRegistrations()).to.be.at.least(1);
    expect(await app.services.oidc.clients.get(clientId)).to.equal(undefined);
  });
});

describe('mcp: dynamic client registration with initial access tokens (REGISTRATION_POLICY=initial-access-token)', () => {
  let app: TestApp;
  before(async () => { app = await startMcpKeyport({ env: { REGISTRATION_POLICY: 'initial-access-token' } }); });
  after(async () => { await app?.close(); });

  it('registers a confidential client only with an initial access token, and stores its secret hashed', async () => {
    const body = { client_name: 'Ops agent', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'] };
    const refused = await app.http().post('/oauth/register').send(body);
    expect(refused.status).to.equal(401);
    expect(refused.body.error).to.equal('invalid_token');

    const { token } = await issueInitialAccessToken(app.services.oidc.payloads, 3600);
    const registered = await app.http().post('/oauth/register').set('Authorization', `Bearer ${token}`).send(body);
    expect(registered.status, registered.text).to.equal(201);
    const { client_id: clientId, client_secret: secret, registration_access_token: rat } = registered.body;
    expect(secret).to.be.a('string');
    const row = (await app.services.oidc.clients.get(clientId))!;
    expect(row.secretHash).to.be.a('string').and.not.equal(secret);
    expect(JSON.stringify(row)).not.to.include(secret);

    // The secret authenticates (the bogus code is then the only problem).
    const tokenRequest = () => app.http().post('/oauth/token').auth(clientId, secret).type('form').send({ grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: REDIRECT_URI });
    expect((await tokenRequest()).body.error).to.equal('invalid_grant');

    // RFC 7592 read and update do not show the stored hash as if it were the secret; the secret survives an update.
    const path = `/oauth/register/${clientId}`;
    const read = await app.http().get(path).set('Authorization', `Bearer ${rat}`);
    expect(read.body).not.to.have.property('client_secret');
    const updated = await app.http().put(path).set('Authorization', `Bearer ${rat}`).send({ ...body, client_id: clientId, client_name: 'Ops agent v2' });
    expect(updated.status, updated.text).to.equal(200);
    expect(updated.body).not.to.have.property('client_secret');
    expect((await app.services.oidc.clients.get(clientId))!.name).to.equal('Ops agent v2');
    expect((await tokenRequest()).body.error).to.equal('invalid_grant');
  });
});
