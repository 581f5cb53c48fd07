import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { REDIRECT_URI } from '../oidc/support.js';
import { metadataDocument, startDocumentHost, startMcpKeyport, type DocumentHost } from './support.js';

/** A token request as the client would send it after the redirect: the engine must resolve the client first. */
function tokenRequest(app: TestApp, clientId: string) {
  return app.http().post('/oauth/token').type('form').send({ grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: REDIRECT_URI, code_verifier: 'v'.repeat(43), client_id: clientId });
}

function expectRefused(res: { status: number; body: { error?: string }; text: string }): void {
  expect(res.status, res.text).to.be.within(400, 401);
  expect(res.body.error, res.text).to.be.oneOf(['invalid_client', 'invalid_client_metadata', 'invalid_redirect_uri']);
  expect(res.text).not.to.match(/at .*\.js:\d+|node_modules/);
}

describe('mcp: hostile client ID metadata documents', () => {
  let app: TestApp;
  let host: DocumentHost;
  before(async () => {
    app = await startMcpKeyport();
    host = await startDocumentHost();
  });
  after(async () => {
    await host?.close();
    await app?.close();
  });
  afterEach(async () => {
    expect(await app.services.oidc.metadataDocuments.store.list(), 'nothing stored').to.deep.equal([]);
  });

  const cases: Array<[string, (url: string) => { status?: number; headers?: Record<string, string>; body?: string }]> = [
    ['an oversized document (over 5 KiB)', (url) => ({ body: metadataDocument(url, { client_uri: `https://example.com/${'a'.repeat(6000)}` }) })],
    ['a document served as text/html', (url) => ({ headers: { 'content-type': 'text/html' }, body: metadataDocument(url) })],
    ['a redirect to a private address', () => ({ status: 302, headers: { location: 'https://169.254.169.254/latest/meta-data/' } })],
    ['a redirect to the same host', (url) => ({ status: 301, headers: { location: `${url}?moved` } })],
    ['a document whose client_id is another URL', () => ({ body: metadataDocument('https://trusted.example.com/client.json') })],
    ['a confidential client (shared secret)', (url) => ({ body: metadataDocument(url, { token_endpoint_auth_method: 'client_secret_basic' }) })],
    ['a client claiming private_key_jwt', (url) => ({ body: metadataDocument(url, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } }) })],
    ['a document granting itself API scopes', (url) => ({ body: metadataDocument(url, { keyport_api_scope: 'admin' }) })],
    ['a document asking for client_credentials', (url) => ({ body: metadataDocument(url, { grant_types: ['client_credentials'] }) })],
    ['a plain-http redirect URI to another host', (url) => ({ body: metadataDocument(url, { redirect_uris: ['http://client.example.com/cb'] }) })],
    ['not JSON', () => ({ body: 'hello' })],
    ['a JSON array', () => ({ body: '[]' })],
    ['a 500', () => ({ status: 500, body: '{}' })],
  ];
  cases.forEach(([name, answer], index) => {
    it(`refuses ${name} with an OAuth error`, async () => {
      const path = `/hostile/${index}.json`;
      const url = `${host.origin}${path}`;
      host.serve(path, answer(url));
      expectRefused(await tokenRequest(app, url));
      expect(host.hits.get(path)).to.equal(1);
      // Refused documents are not cached as clients: the same URL is refused again.
      expectRefused(await tokenRequest(app, url));
    });
  });

  it('does not fetch a client_id that names a private address', async () => {
    for (const url of ['https://10.1.2.3/client.json', 'https://169.254.169.254/latest/meta-data/client.json', 'https://[fd00::1]/client.json']) {
      expectRefused(await tokenRequest(app, url));
    }
  });

  it('does not fetch a client_id over http, with credentials, a fragment, or of more than 191 characters', async () => {
    for (const url of [`http://127.0.0.1:1/client.json`, `${host.origin.replace('https://', 'https://user:pw@')}/c.json`, `${host.origin}/c.json#x`, `${host.origin}/${'c'.repeat(200)}.json`]) {
      const res = await tokenRequest(app, url);
      expect(res.status, res.text).to.be.within(400, 401);
      expect(res.body.error).to.equal('invalid_client');
    }
    expect([...host.hits.keys()].some((path) => path.startsWith('/c'))).to.equal(false);
  });

  it('gives up on a document that does not arrive within the time limit', async function () {
    this.timeout(15_000);
    const path = '/slow.json';
    host.serve(path, () => ({ status: 200, body: undefined }));
    // A server that accepts the request and never answers.
    const { createServer } = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const { TEST_CA_FILE } = await import('./support.js');
    const fixtures = TEST_CA_FILE.replace(/ca\.pem$/, '');
    const silent = createServer({ cert: readFileSync(`${fixtures}server.pem`), key: readFileSync(`${fixtures}server.key`) }, () => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const started = Date.now();
    try {
      expectRefused(await tokenRequest(app, `https://127.0.0.1:${(silent.address() as { port: number }).port}/client.json`));
      expect(Date.now() - started).to.be.below(5000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe('mcp: client ID metadata documents as the operator configures them', () => {
  let host: DocumentHost;
  before(async () => { host = await startDocumentHost(); });
  after(async () => { await host?.close(); });

  for (const [variable, value] of [['CIMD_ALLOWED_HOSTS', 'clients.example.com,*.example.org'], ['CIMD_DENIED_HOSTS', '127.0.0.1']] as const) {
    it(`${variable}=${value} keeps documents on 127.0.0.1 from being fetched`, async () => {
      const app = await startMcpKeyport({ env: { [variable]: value } });
      try {
        const url = host.serve(`/${variable}.json`, { body: '' });
        host.serve(`/${variable}.json`, { body: metadataDocument(url) });
        expectRefused(await tokenRequest(app, url));
        expect(host.hits.get(`/${variable}.json`)).to.equal(undefined);
      } finally {
        await app.close();
      }
    });
  }

  it('CIMD_ENABLED=false: not advertised, and a URL client_id is an unknown client', async () => {
    const app = await startMcpKeyport({ env: { CIMD_ENABLED: 'false' } });
    try {
      const metadata = (await app.http().get('/.well-known/oauth-authorization-server')).body;
      expect(metadata).not.to.have.property('client_id_metadata_document_supported');
      const url = host.serve('/disabled.json', { body: '' });
      host.serve('/disabled.json', { body: metadataDocument(url) });
      const res = await tokenRequest(app, url);
      expect(res.body.error).to.equal('invalid_client');
      expect(host.hits.get('/disabled.json')).to.equal(undefined);
    } finally {
      await app.close();
    }
  });
});
