import { expect } from 'chai';
import { createPrivateKey, sign, type JsonWebKey } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type supertest from 'supertest';
import type { NewClient } from '../../src/clients/client_service.js';
import { toLowS } from '../../src/oidc/ecdsa_low_s.js';
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

export type AdminSession = AdminCaller & { token: string; client: ServiceClient };

/** An admin caller holding a real client-credentials token. */
export async function adminCaller(app: TestApp): Promise<AdminSession> {
  const { token, client } = await adminToken(app);
  return { ...callerWith(app, token), token, client };
}

/** The token with its ES256 signature in the low-S form, the only one Keyport signs and accepts. */
export function withLowS(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  return `${header}.${payload}.${toLowS(Buffer.from(signature, 'base64url')).toString('base64url')}`;
}

/**
 * Signs an access token with the server's own signing key, for what the real flows cannot produce
 * on demand (an expired token, a token from the API-key exchange). Starts from a real token's
 * claims so only what the test changes differs; `header` adds or overrides header parameters.
 */
export async function signWithServerKey(app: TestApp, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  await app.services.oidc.ready();
  const ring = app.services.oidc.host.keyRing;
  const jwk = ring.privateJwks.find((key) => key.kid === ring.signingKid)!;
  // Signed by hand rather than with jose, which refuses to sign headers such as `crit` that tests need.
  const signingInput = [{ alg: 'ES256', typ: 'at+jwt', kid: ring.signingKid, ...header }, claims]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.');
  const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return withLowS(`${signingInput}.${signature.toString('base64url')}`);
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
  if (/^(agent|agt|key|cli|usr)_[A-Za-z0-9]+$/.test(value)) return `<${value.split('_')[0]} id>`;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) return '<date>';
  if (/^ak_(live|test)_[A-Za-z0-9]{32}$/.test(value)) return '<api key>';
  if (/^ak_(live|test)_[A-Za-z0-9]{4}$/.test(value)) return '<prefix>';
  if (/^[A-Za-z0-9_-]{43}$/.test(value)) return '<client secret>';
  return value;
}

/** Bad key options shared by POST /admin/agents and POST /admin/keys: [fields, what the message must name]. */
export const BAD_KEY_OPTIONS: ReadonlyArray<[Record<string, unknown>, RegExp]> = [
  [{ scopes: 5 }, /scopes/],
  [{ scopes: [1] }, /scopes/],
  [{ scopes: [] }, /scopes/],
  [{ scopes: ['nope'] }, /scopes: unknown scope "nope"/],
  [{ scopes: ['read', 'x'.repeat(65)] }, /scopes/],
  [{ scopes: Array.from({ length: 65 }, () => 'read') }, /scopes/],
  [{ scopes: 'read,'.repeat(2000) }, /scopes/],
  [{ scopes: { read: true } }, /scopes/],
  [{ scopes: 'admin' }, /access type "integrations" may not hold scope "admin"/],
  [{ scopes: ['read', 'delete'], access_type: 'transactional' }, /access type "transactional" may not hold scope "delete"/],
  [{ scopes: ['admin'], access_type: 'transactional' }, /may not hold scope "admin"/],
  [{ env: 'prod' }, /env/],
  [{ env: 5 }, /env/],
  [{ access_type: 'root' }, /access_type/],
  [{ access_type: ['admin'] }, /access_type/],
  [{ expires_in: '90 days' }, /expires in/],
  [{ expires_in: 'x'.repeat(33) }, /expires_in/],
  [{ expires_in: -5 }, /expires in/],
  [{ expires_in: 0 }, /expires in/],
  [{ expires_in: 1.5 }, /expires_in/],
  [{ expires_in: true }, /expires_in/],
  [{ expires_in: '3651d' }, /expires in/],
  [{ expires_at: 'tomorrow' }, /expires_at/],
  [{ expires_at: '2001-01-01T00:00:00Z' }, /expires at: must be in the future/],
  [{ expires_at: 5 }, /expires_at/],
  [{ expires_in: '1d', expires_at: '2099-01-01T00:00:00Z' }, /expires in or expires at/],
  [{ allow_ips: '10.0.0.0/33' }, /10\.0\.0\.0\/33/],
  [{ allow_ips: ['not-an-ip'] }, /not-an-ip/],
  [{ allow_ips: ['127.1'] }, /127\.1/],
  [{ allow_ips: [5] }, /allow_ips/],
  [{ allow_ips: ['10.0.0.1', 'x'.repeat(65)] }, /allow_ips/],
  [{ allow_ips: Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`) }, /allow_ips/],
  [{ rate_limit: 'fast' }, /rate_limit/],
  [{ rate_limit: [60] }, /rate_limit/],
  [{ rate_limit: { per_minute: 0 } }, /rate_limit\.per_minute/],
  [{ rate_limit: { per_minute: 1.5 } }, /rate_limit\.per_minute/],
  [{ rate_limit: { per_hour: '100' } }, /rate_limit\.per_hour/],
  [{ rate_limit: { burst: 1e12 } }, /rate limit burst/],
  [{ rate_limit: { per_second: 5 } }, /unknown field "rate_limit\.per_second"/],
  [{ contact_email: 'not-an-email' }, /contact_email/],
  [{ contact_email: 5 }, /contact_email/],
  [{ contact_email: `${'a'.repeat(250)}@example.com` }, /contact_email/],
];
