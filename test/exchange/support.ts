import { expect } from 'chai';
import type { Response } from 'supertest';
import type { KeyOptionsInput } from '../../src/keys/index.js';
import type { CreatedAgent } from '../../src/keys/agents.js';
import type { TestApp, TestAppOptions } from '../support/app.js';
import { createAgentWithKey } from '../keys/helpers.js';
import { client, postForm, registerClient, startOidcApp, type RegisteredClient } from '../oidc/support.js';

export { client, expectOAuthError, postForm, registerClient } from '../oidc/support.js';
export { createAgentWithKey, expectError, sleep, TEST_ACTOR } from '../keys/helpers.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const API_KEY_TYPE = 'urn:keyport:params:oauth:token-type:api_key';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const API_KEY_CLIENT = 'keyport-api-key';

/** An app whose issuer is its own loopback address (openid-client checks the issuer). */
export async function startExchangeApp(options: TestAppOptions = {}): Promise<TestApp> {
  return startOidcApp(options);
}

export interface ExchangeFixture {
  app: TestApp;
  /** A confidential client that may introspect any token (a resource server). */
  introspector: RegisteredClient;
}

export async function fixture(options: TestAppOptions = {}): Promise<ExchangeFixture> {
  const app = await startExchangeApp(options);
  const introspector = await registerClient(app, { name: 'resource server', grantTypes: ['client_credentials'], scopes: ['read'] });
  return { app, introspector };
}

/** An agent with one key (defaults: read + write, integrations). */
export async function agentKey(app: TestApp, key: KeyOptionsInput = {}): Promise<CreatedAgent> {
  return createAgentWithKey(app, { scopes: ['read', 'write'], ...key });
}

/** `POST /auth/login` with the key as a Bearer header and a JSON body. */
export function login(app: TestApp, apiKey: string | undefined, body: Record<string, unknown> = {}): Promise<Response> {
  const request = app.http().post('/auth/login').set('Content-Type', 'application/json');
  if (apiKey !== undefined) request.set('Authorization', `Bearer ${apiKey}`);
  return request.send(JSON.stringify(body)).then((res) => res);
}

/** RFC 7662 introspection by the resource-server client. */
export async function introspect(fx: ExchangeFixture, token: string): Promise<Record<string, unknown>> {
  const res = await postForm(fx.app, '/oauth/introspect', { token }, fx.introspector);
  expect(res.status, res.text).to.equal(200);
  return res.body as Record<string, unknown>;
}

/** The RFC 8693 exchange of an API key through openid-client, as the public client `keyport-api-key`. */
export async function exchangeKey(app: TestApp, apiKey: string, parameters: Record<string, string> = {}, clientId = API_KEY_CLIENT, auth?: client.ClientAuth): Promise<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers> {
  const config = await client.discovery(new URL(app.config.issuer), clientId, undefined, auth ?? client.None(), { execute: [client.allowInsecureRequests] });
  return client.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: apiKey, subject_token_type: API_KEY_TYPE, ...parameters });
}

/** The same exchange as a raw form POST (for error cases openid-client would throw on). */
export function exchangeForm(app: TestApp, body: Record<string, string>, auth?: RegisteredClient): ReturnType<typeof postForm> {
  return postForm(app, '/oauth/token', { grant_type: TOKEN_EXCHANGE, ...(auth ? {} : { client_id: API_KEY_CLIENT }), ...body }, auth);
}

/** The payload of a JWT, unverified (tests that need verification use jose against the JWKS). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export { registerClient as registerOAuthClient };
