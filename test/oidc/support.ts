import { expect } from 'chai';
import * as client from 'openid-client';
import type supertest from 'supertest';
import type { NewClient } from '../../src/clients/client_service.js';
import { startTestApp, type TestApp, type TestAppOptions } from '../support/app.js';

export { client };

/**
 * An app whose issuer is the address it listens on (127.0.0.1), so openid-client's issuer checks
 * and the URLs in discovery agree.
 */
export function startOidcApp(options: TestAppOptions = {}): Promise<TestApp> {
  return startTestApp({ ...options, issuerOnPort: true });
}

export interface RegisteredClient {
  id: string;
  secret?: string;
}

/** Registers a client through the same service the CLI uses. */
export async function registerClient(app: TestApp, input: Partial<NewClient> & Pick<NewClient, 'grantTypes'>): Promise<RegisteredClient> {
  const { client: created, clientSecret } = await app.services.oidc.clients.create({ name: 'Test client', ...input });
  return { id: created.id, secret: clientSecret };
}

/** An openid-client Configuration from Keyport's discovery document. */
export async function discover(app: TestApp, registered: RegisteredClient, auth?: client.ClientAuth): Promise<client.Configuration> {
  const authentication = auth ?? (registered.secret ? client.ClientSecretBasic(registered.secret) : client.None());
  return client.discovery(new URL(app.config.issuer), registered.id, undefined, authentication, { execute: [client.allowInsecureRequests] });
}

export const REDIRECT_URI = 'https://client.example.com/cb';

export function csrfOf(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  expect(match, 'the page has a CSRF field').to.not.equal(null);
  return match![1]!;
}

function pathOf(location: string | undefined, issuer: string): string {
  expect(location, 'a redirect').to.be.a('string');
  const url = new URL(location!, issuer);
  return `${url.pathname}${url.search}`;
}

export interface BrowserOptions {
  email: string;
  password: string;
  /** Decide on the consent page (default allow). */
  consent?: 'allow' | 'deny';
}

/**
 * Plays the browser through login and consent: follows the engine's redirects with a
 * cookie-keeping agent, submits the real forms (CSRF token parsed from the HTML), and returns the
 * final redirect to the client (the callback URL with `code` or `error`).
 */
export async function signInThroughPages(app: TestApp, authorizationUrl: URL, options: BrowserOptions, agent: supertest.Agent = app.http()): Promise<URL> {
  let response = await agent.get(`${authorizationUrl.pathname}${authorizationUrl.search}`);
  for (let step = 0; step < 10; step += 1) {
    if (response.status === 303 || response.status === 302) {
      const location = response.headers.location as string;
      if (location.startsWith(REDIRECT_URI) || !location.startsWith('/') && !location.startsWith(app.config.issuer)) return new URL(location);
      response = await agent.get(pathOf(location, app.config.issuer));
      continue;
    }
    expect(response.status, response.text).to.equal(200);
    const path = new URL(response.request.url).pathname;
    if (response.text.includes('name="password"')) {
      response = await agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(response.text), email: options.email, password: options.password });
      if (response.status !== 303) throw new Error(`login failed with ${response.status}`);
    } else if (response.text.includes('name="decision"')) {
      response = await agent.post(`${path}/consent`).type('form').send({ csrf: csrfOf(response.text), decision: options.consent ?? 'allow' });
    } else {
      throw new Error(`unexpected page: ${response.text.slice(0, 300)}`);
    }
  }
  throw new Error('too many redirects');
}

export interface CodeFlowResult {
  tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  config: client.Configuration;
}

/** The whole authorization-code + PKCE flow through the real pages, ending with the token request. */
export async function codeFlow(app: TestApp, registered: RegisteredClient, user: { email: string; password: string }, options: { scope?: string; resource?: string; tokenResource?: string } = {}): Promise<CodeFlowResult> {
  const config = await discover(app, registered);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const scope = options.scope ?? 'openid email offline_access read';
  const nonce = scope.split(' ').includes('openid') ? client.randomNonce() : undefined;
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...(nonce ? { nonce } : {}),
    prompt: 'consent',
    ...(options.resource ? { resource: options.resource } : {}),
  });
  const callback = await signInThroughPages(app, url, user);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, options.tokenResource ? { resource: options.tokenResource } : undefined);
  return { tokens, config };
}

export async function createUser(app: TestApp, email = 'ada@example.com', password = 'correct horse battery'): Promise<{ id: string; email: string; password: string }> {
  const user = await app.services.oidc.users.create({ email, password });
  return { id: user.id, email, password };
}

/** A form POST to an engine endpoint, with HTTP Basic client authentication. */
export function postForm(app: TestApp, path: string, body: Record<string, string>, auth?: RegisteredClient): supertest.Test {
  const request = app.http().post(path).type('form').send(body);
  return auth?.secret ? request.auth(auth.id, auth.secret) : request;
}

/** RFC 6749 §5.2 error body, never a 500 or a stack. */
export function expectOAuthError(response: { status: number; body: unknown; text: string }, error: string, status?: number): void {
  if (status !== undefined) expect(response.status, response.text).to.equal(status);
  expect(response.status).not.to.equal(500);
  expect(response.body).to.have.property('error', error);
  expect(response.text).not.to.match(/at .*\.js:\d+|node_modules/);
}
