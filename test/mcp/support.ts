import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { keyport } from '@keyport/verify/koa';
import type { TestApp, TestAppOptions } from '../support/app.js';
import { REDIRECT_URI, signInThroughPages, startOidcApp } from '../oidc/support.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'mcp', 'fixtures');
/** The test CA (a throw-away key pair made for these tests; its private key was not kept). */
export const TEST_CA_FILE = join(FIXTURES, 'ca.pem');

/** Keyport trusting the test CA for the URLs it fetches on a client's behalf. */
export function startMcpKeyport(options: TestAppOptions = {}): Promise<TestApp> {
  return startOidcApp({ ...options, env: { CLIENT_URL_CA_FILE: TEST_CA_FILE, ...options.env } });
}

export interface Served {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** An https server with a certificate of the test CA, answering what a test put at a path; counts requests per path. */
export interface DocumentHost {
  readonly origin: string;
  readonly hits: Map<string, number>;
  serve(path: string, answer: Served | (() => Served)): string;
  close(): Promise<void>;
}

export async function startDocumentHost(): Promise<DocumentHost> {
  const answers = new Map<string, Served | (() => Served)>();
  const hits = new Map<string, number>();
  const server: HttpsServer = createHttpsServer({ cert: readFileSync(join(FIXTURES, 'server.pem')), key: readFileSync(join(FIXTURES, 'server.key')) }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const found = answers.get(path);
    const answer = typeof found === 'function' ? found() : found;
    if (!answer) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(answer.status ?? 200, answer.headers ?? { 'content-type': 'application/json' });
    res.end(answer.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const origin = `https://127.0.0.1:${port}`;
  return {
    origin,
    hits,
    serve(path, answer) {
      answers.set(path, answer);
      return `${origin}${path}`;
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A client ID metadata document for `clientId`, as an MCP client publishes it. */
export function metadataDocument(clientId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    client_id: clientId,
    client_name: 'Example MCP Client',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  });
}

/** A small MCP-style resource server: RFC 9728 metadata and one tool endpoint, guarded by @keyport/verify. */
export interface McpServer {
  /** The MCP endpoint, also the resource (audience). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startMcpServer(app: TestApp, options: { scopes: string[]; path?: string; port?: number }): Promise<McpServer> {
  const koa = new Koa();
  // The resource URL names the port, so listen first and hand requests to koa once it is set up.
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createHttpServer((req, res) => handle!(req, res));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}${options.path ?? '/mcp'}`;
  const auth = keyport({ issuer: app.config.issuer, resource: url, scopesSupported: options.scopes, resourceName: 'Example MCP server' });
  koa.use(auth.metadata());
  const guard = auth.require(...options.scopes);
  koa.use(async (ctx, next) => {
    if (ctx.path !== new URL(url).pathname) return next();
    return guard(ctx, async () => {
      ctx.body = { jsonrpc: '2.0', id: 1, result: { caller: ctx.state.auth!.sub, client: ctx.state.auth!.client_id } };
    });
  });
  handle = koa.callback();
  return { url, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/**
 * The MCP SDK's client side of OAuth, in memory: what an MCP client keeps between the redirect
 * to the authorization server and the callback.
 */
export class MemoryClientProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  savedTokens: OAuthTokens | undefined;
  information: OAuthClientInformationMixed | undefined;
  private verifier = '';

  constructor(readonly clientMetadataUrl: string | undefined, private readonly metadata: Partial<OAuthClientMetadata> = {}) {}

  get redirectUrl(): string { return REDIRECT_URI; }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Example MCP Client', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', ...this.metadata };
  }
  clientInformation(): OAuthClientInformationMixed | undefined { return this.information; }
  saveClientInformation(info: OAuthClientInformationMixed): void { this.information = info; }
  tokens(): OAuthTokens | undefined { return this.savedTokens; }
  saveTokens(tokens: OAuthTokens): void { this.savedTokens = tokens; }
  redirectToAuthorization(url: URL): void { this.authorizationUrl = url; }
  saveCodeVerifier(verifier: string): void { this.verifier = verifier; }
  codeVerifier(): string { return this.verifier; }
}

/** Plays the user through Keyport's login and consent pages for the URL the SDK redirected to; returns the code. */
export async function userApproves(app: TestApp, provider: MemoryClientProvider, user: { email: string; password: string }): Promise<string> {
  if (!provider.authorizationUrl) throw new Error('the SDK did not redirect to the authorization server');
  const callback = await signInThroughPages(app, provider.authorizationUrl, user);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in the callback: ${callback.href}`);
  return code;
}

/** Calls the MCP endpoint with a bearer token. */
export async function callMcp(server: McpServer, token: string): Promise<Response> {
  return fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
}
