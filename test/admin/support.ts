import { expect } from 'chai';
import { SignJWT, importJWK, type JWTPayload } from 'jose';
import type supertest from 'supertest';
import type { NewClient } from '../../src/clients/client_service.js';
import type { TestApp } from '../support/app.js';

export { expectError, dumpDatabase, secretTail } from '../keys/helpers.js';

let counter = 0;

export interface ServiceClient {
  readonly id: string;
  readonly secret: string;
}

/** A confidential client-credentials client, registered through the service the CLI uses. */
export async function registerServiceClient(app: TestApp, scopes: string[] = ['admin'], input: Partial<NewClient> = {}): Promise<ServiceClient> {
  counter += 1;
  const { client, clientSecret } = await app.services.oidc.clients.create({ name: `admin-test-${counter}`, grantTypes: ['client_credentials'], scopes, ...input });
  return { id: client.id, secret: clientSecret! };
}

/** A token from the real client-credentials flow at /oauth/token. */
export async function clientCredentialsToken(app: TestApp, client: ServiceClient, scope = 'admin', extra: Record<string, string> = {}): Promise<string> {
  const res = await app.http().post('/oauth/token').type('form').auth(client.id, client.secret)
    .send({ grant_type: 'client_credentials', scope, ...extra });
  expect(res.status, res.text).to.equal(200);
  expect(res.body.scope ?? '').to.equal(scope);
  return res.body.access_token as string;
}

/** A fresh client with the `admin` scope and a token from it. */
export async function adminToken(app: TestApp): Promise<{ token: string; client: ServiceClient }> {
  const client = await registerServiceClient(app, ['admin']);
  return { token: await clientCredentialsToken(app, client), client };
}

/** Requests with `Authorization: Bearer <token>`. */
export interface AdminCaller {
  get(path: string): supertest.Test;
  post(path: string, body?: unknown): supertest.Test;
  delete(path: string): supertest.Test;
}

export function callerWith(app: TestApp, token: string): AdminCaller {
  const auth = (test: supertest.Test): supertest.Test => test.set('Authorization', `Bearer ${token}`);
  return {
    get: (path) => auth(app.http().get(path)),
    post: (path, body) => {
      const test = auth(app.http().post(path));
      return body === undefined ? test : test.send(body as object);
    },
    delete: (path) => auth(app.http().delete(path)),
  };
}

/** An admin caller holding a real client-credentials token. */
export async function adminCaller(app: TestApp): Promise<AdminCaller & { token: string; client: ServiceClient }> {
  const { token, client } = await adminToken(app);
  return { ...callerWith(app, token), token, client };
}

/**
 * Signs an access token with the server's own signing key, for what the real flows cannot produce
 * on demand (an expired token, a token from the API-key exchange). Starts from a real token's
 * claims so only what the test changes differs.
 */
export async function signWithServerKey(app: TestApp, claims: JWTPayload): Promise<string> {
  await app.services.oidc.ready();
  const ring = app.services.oidc.host.keyRing;
  const jwk = ring.privateJwks.find((key) => key.kid === ring.signingKid)!;
  const key = await importJWK(jwk as never, 'ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: ring.signingKid }).sign(key);
}

/** The claims of a JWT, unverified (the test minted it). */
export function claimsOf(token: string): JWTPayload {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as JWTPayload;
}

/**
 * The shape of a JSON value, for comparing the admin API's answers with the CLI's `--json`:
 * ids, timestamps, key prefixes and secrets become placeholders, everything else stays.
 */
export function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, item]) => [name, normalized(item)]));
  }
  if (typeof value !== 'string') return value;
  if (/^(agt|key|cli|usr)_[A-Za-z0-9]+$/.test(value)) return `<${value.slice(0, 3)} id>`;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) return '<date>';
  if (/^ak_(live|test)_[A-Za-z0-9]{32}$/.test(value)) return '<api key>';
  if (/^ak_(live|test)_[A-Za-z0-9]{4}$/.test(value)) return '<prefix>';
  if (/^[A-Za-z0-9_-]{43}$/.test(value)) return '<client secret>';
  return value;
}
