import { expect } from 'chai';
import { auth, discoverAuthorizationServerMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import type { TestApp } from '../support/app.js';
import { createUser, postForm, registerClient, signInThroughPages } from '../oidc/support.js';
import { callMcp, MemoryClientProvider, metadataDocument, startDocumentHost, startMcpKeyport, startMcpServer, userApproves, type DocumentHost, type McpServer } from './support.js';

describe('mcp: a client ID metadata document client, driven by the MCP TypeScript SDK', () => {
  let app: TestApp;
  let host: DocumentHost;
  let mcp: McpServer;
  let otherMcp: McpServer;
  let clientId: string;
  let user: { email: string; password: string };

  before(async () => {
    app = await startMcpKeyport();
    host = await startDocumentHost();
    clientId = `${host.origin}/clients/example.json`;
    host.serve('/clients/example.json', { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=600' }, body: metadataDocument(clientId) });
    mcp = await startMcpServer(app, { scopes: ['mcp:tools'] });
    otherMcp = await startMcpServer(app, { scopes: ['mcp:tools'], path: '/other' });
    for (const server of [mcp, otherMcp]) await app.services.oidc.resourceServers.create({ audience: server.url, format: 'jwt', scopes: ['mcp:tools'] });
    user = await createUser(app);
  });
  after(async () => {
    await mcp?.close();
    await otherMcp?.close();
    await host?.close();
    await app?.close();
  });

  it('advertises client ID metadata documents in discovery', async () => {
    const metadata = await discoverAuthorizationServerMetadata(app.config.issuer);
    expect(metadata).to.include({ client_id_metadata_document_supported: true });
    expect(metadata!.code_challenge_methods_supported).to.deep.equal(['S256']);
  });

  it('discovers Keyport from the MCP server, signs the user in and gets a token only that server accepts', async () => {
    const provider = new MemoryClientProvider(clientId);
    expect(await auth(provider, { serverUrl: mcp.url })).to.equal('REDIRECT');
    const authorization = provider.authorizationUrl!;
    expect(authorization.searchParams.get('client_id')).to.equal(clientId);
    expect(authorization.searchParams.get('code_challenge_method')).to.equal('S256');
    expect(authorization.searchParams.get('resource')).to.equal(mcp.url);

    const code = await userApproves(app, provider, user);
    expect(await auth(provider, { serverUrl: mcp.url, authorizationCode: code })).to.equal('AUTHORIZED');
    const token = provider.savedTokens!.access_token;
    expect(decodeJwt(token)).to.include({ aud: mcp.url, client_id: clientId, scope: 'mcp:tools' });

    const answer = await callMcp(mcp, token);
    expect(answer.status).to.equal(200);
    expect(((await answer.json()) as { result: object }).result).to.include({ client: clientId });
    // A token for one MCP server is refused by another (audience).
    const refused = await callMcp(otherMcp, token);
    expect(refused.status).to.equal(401);
    expect(refused.headers.get('www-authenticate')).to.match(/invalid_token/);
  });

  it('shows the client name and the host of its client_id URL on the consent page', async () => {
    const provider = new MemoryClientProvider(clientId);
    await auth(provider, { serverUrl: mcp.url });
    const agent = app.http();
    let page = await agent.get(`${provider.authorizationUrl!.pathname}${provider.authorizationUrl!.search}`).redirects(5);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    page = await agent.post(`${new URL(page.request.url).pathname}/login`).type('form').send({ csrf, email: user.email, password: user.password }).redirects(5);
    expect(page.text).to.include('Example MCP Client');
    expect(page.text).to.include(new URL(clientId).host);
    expect(page.text).to.match(/describes itself/);
  });

  it('records the client with its URL and first/last use, and fetched the document once (cached)', async () => {
    const [row] = await app.services.oidc.metadataDocuments.store.list();
    expect(row).to.include({ url: clientId, host: new URL(clientId).host, name: 'Example MCP Client', blockedAt: null });
    expect(row!.firstUsedAt.getTime()).to.be.at.most(row!.lastUsedAt.getTime());
    expect(host.hits.get('/clients/example.json')).to.equal(1);
  });

  it('refuses a redirect_uri the document does not list', async () => {
    const provider = new MemoryClientProvider(clientId);
    await auth(provider, { serverUrl: mcp.url });
    const url = new URL(provider.authorizationUrl!);
    url.searchParams.set('redirect_uri', 'https://attacker.example/cb');
    const res = await app.http().get(`${url.pathname}${url.search}`);
    expect(res.status).to.equal(400);
    expect(res.text).to.match(/redirect_uri/);
  });

  it('a blocked client loses its tokens at once and cannot come back', async () => {
    const provider = new MemoryClientProvider(clientId);
    await auth(provider, { serverUrl: mcp.url });
    const code = await userApproves(app, provider, user);
    await auth(provider, { serverUrl: mcp.url, authorizationCode: code });
    const token = provider.savedTokens!.access_token;
    expect((await callMcp(mcp, token)).status).to.equal(200);
    const introspector = await registerClient(app, { name: 'MCP server', grantTypes: ['client_credentials'] });
    expect((await postForm(app, '/oauth/introspect', { token }, introspector)).body).to.include({ active: true, client_id: clientId });

    await app.services.oidc.metadataDocuments.store.block(clientId);
    // The kit introspects nothing for a JWT; Keyport's introspection tells the truth at once.
    const introspected = await postForm(app, '/oauth/introspect', { token }, introspector);
    expect(introspected.body).to.deep.equal({ active: false });
    const refresh = await app.http().post('/oauth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: provider.savedTokens!.refresh_token ?? 'none', client_id: clientId });
    expect(refresh.status).to.be.within(400, 401);
    expect(refresh.body.error).to.match(/invalid_client|invalid_grant/);

    const again = new MemoryClientProvider(clientId);
    await auth(again, { serverUrl: mcp.url });
    const res = await app.http().get(`${again.authorizationUrl!.pathname}${again.authorizationUrl!.search}`);
    expect(res.status).to.equal(400);
    expect(res.text).to.match(/invalid_client/);
    await app.services.oidc.metadataDocuments.store.unblock(clientId);
    const callback = await signInThroughPages(app, again.authorizationUrl!, user);
    expect(callback.searchParams.get('code')).to.be.a('string');
  });
});
