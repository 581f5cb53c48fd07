import { randomBytes } from 'node:crypto';
import type autocannon from 'autocannon';
import { measureLogins, completeLogin, FlowError, type AuthCodeSetup } from './auth_code.js';
import { basicAuth, describe, formBody, jwtHeader, probe } from './http.js';
import { available, unavailable, type Available } from './keyport.js';
import { measureLoad, type LoadSpec, type Measurement } from './load.js';
import type { ScenarioId } from './options.js';

/** What a scenario may use on the server under test; anything missing makes it "unavailable". */
export interface BenchTarget {
  readonly kind: 'keyport' | 'bare';
  readonly url: string;
  /** A confidential client allowed client_credentials; it also authenticates introspection. */
  readonly ccClient: Available<{ id: string; secret: string }>;
  /** `resource=` for JWT access tokens; undefined = the server's default resource. */
  readonly jwtResource: string | undefined;
  /** `resource=` for which the server issues opaque access tokens. */
  readonly opaqueResource: Available<string>;
  readonly apiKey: Available<string>;
  readonly authCode: Available<Omit<AuthCodeSetup, 'baseUrl'>>;
}

export interface RunSettings {
  readonly duration: number;
  readonly warmup: number;
  readonly connections: number;
  /** The server under load, for its CPU time per request. */
  readonly serverPid?: number;
  /** Its database server, when that is a process on this machine (see `Measurement.databaseCpuPerRequest`). */
  readonly databasePid?: number;
}

/** A scenario that passed its probe: ready to be measured. */
export interface Prepared {
  readonly measure: (settings: RunSettings) => Promise<Measurement>;
  /** Something the reader of the results should know (e.g. the token format actually issued). */
  readonly note?: string;
  /** The requests, when the load is plain HTTP (the large measurement reuses them to mint tokens). */
  readonly load?: LoadSpec;
}

export interface Scenario {
  readonly id: ScenarioId;
  readonly title: string;
  prepare(target: BenchTarget, connections: number): Promise<Available<Prepared>>;
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TOKEN_TYPE = 'urn:keyport:params:oauth:token-type:api_key';

function httpLoad(target: BenchTarget, connections: number, requests: autocannon.Request[], note?: string): Prepared {
  const load: LoadSpec = { url: target.url, connections, requests };
  return { load, note, measure: (s) => measureLoad({ ...load, connections: s.connections }, s.duration, s.warmup, s.serverPid, s.databasePid) };
}

/** A request whose body changes every time (a fresh session ID, say). */
function varying(base: autocannon.RequestParams, body: (n: number) => string): autocannon.Request {
  let n = 0;
  return {
    ...base,
    setupRequest: (request) => {
      n += 1;
      return { ...request, body: body(n) };
    },
  };
}

/** A unique prefix per prepared scenario, so session IDs never repeat across scenarios or runs. */
const runTag = (): string => randomBytes(4).toString('hex');

interface MintedToken {
  readonly token: string;
  /** The form body that minted it, reused as the load. */
  readonly body: string;
}

/**
 * Client credentials with `scope=read` (what the bench client is created with); without scope
 * when the server refuses it, since some setups grant no scope to machine clients.
 */
async function mintClientCredentials(target: BenchTarget, client: { id: string; secret: string }, resource: string | undefined): Promise<Available<MintedToken>> {
  let last = '';
  for (const scope of ['read', undefined]) {
    const body = formBody({ grant_type: 'client_credentials', scope, resource });
    const res = await probe(`${target.url}/oauth/token`, { method: 'POST', headers: { authorization: basicAuth(client.id, client.secret), 'content-type': FORM }, body });
    const token = res.json?.access_token;
    if (res.status === 200 && typeof token === 'string') return available({ token, body });
    last = describe('POST', '/oauth/token (client_credentials)', res);
    if (res.json?.error !== 'invalid_scope') break;
  }
  return unavailable(last);
}

function tokenRequest(client: { id: string; secret: string }, body: string): autocannon.Request {
  return { method: 'POST', path: '/oauth/token', headers: { authorization: basicAuth(client.id, client.secret), 'content-type': FORM }, body };
}

async function loginWithKey(target: BenchTarget, apiKey: string, sessionId: string): Promise<Available<string>> {
  const res = await probe(`${target.url}/auth/login`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': JSON_TYPE },
    body: JSON.stringify({ session_id: sessionId }),
  });
  const token = res.json?.access_token;
  return res.status === 200 && typeof token === 'string' ? available(token) : unavailable(describe('POST', '/auth/login', res));
}

/** Introspection must answer active:true for the token, or the scenario would measure a refusal. */
async function introspectionLoad(target: BenchTarget, connections: number, token: Available<string>, what: string): Promise<Available<Prepared>> {
  if (!target.ccClient.ok) return unavailable(target.ccClient.reason);
  if (!token.ok) return unavailable(token.reason);
  const client = target.ccClient.value;
  const request: autocannon.Request = {
    method: 'POST',
    path: '/oauth/introspect',
    headers: { authorization: basicAuth(client.id, client.secret), 'content-type': FORM },
    body: formBody({ token: token.value }),
  };
  const res = await probe(`${target.url}/oauth/introspect`, { method: request.method, headers: request.headers, body: request.body as string });
  if (res.status !== 200 || res.json?.active !== true) return unavailable(`introspection of ${what} not active: ${describe('POST', '/oauth/introspect', res)}`);
  return available(httpLoad(target, connections, [request]));
}

async function jwtToken(target: BenchTarget): Promise<Available<string>> {
  if (!target.ccClient.ok) return unavailable(target.ccClient.reason);
  const minted = await mintClientCredentials(target, target.ccClient.value, target.jwtResource);
  if (!minted.ok) return minted;
  return jwtHeader(minted.value.token) ? available(minted.value.token) : unavailable('client credentials gave an opaque token where a JWT was expected');
}

async function opaqueToken(target: BenchTarget): Promise<Available<MintedToken>> {
  if (!target.ccClient.ok) return unavailable(target.ccClient.reason);
  if (!target.opaqueResource.ok) return unavailable(target.opaqueResource.reason);
  const minted = await mintClientCredentials(target, target.ccClient.value, target.opaqueResource.value);
  if (!minted.ok) return minted;
  if (jwtHeader(minted.value.token)) return unavailable(`resource ${target.opaqueResource.value} got a JWT, not an opaque token`);
  return minted;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: '0',
    title: 'GET /healthz (harness smoke, framework ceiling)',
    async prepare(target, connections) {
      const res = await probe(`${target.url}/healthz`);
      if (res.status !== 200) return unavailable(describe('GET', '/healthz', res));
      return available(httpLoad(target, connections, [{ method: 'GET', path: '/healthz' }]));
    },
  },
  {
    id: '1',
    title: 'client credentials, JWT (ES256)',
    async prepare(target, connections) {
      if (!target.ccClient.ok) return unavailable(target.ccClient.reason);
      const minted = await mintClientCredentials(target, target.ccClient.value, target.jwtResource);
      if (!minted.ok) return minted;
      const header = jwtHeader(minted.value.token);
      if (!header) return unavailable('the token endpoint issued an opaque token where a JWT was expected');
      const note = header.alg === 'ES256' ? undefined : `issued alg ${String(header.alg)}, not ES256`;
      return available(httpLoad(target, connections, [tokenRequest(target.ccClient.value, minted.value.body)], note));
    },
  },
  {
    id: '2',
    title: 'client credentials, opaque',
    async prepare(target, connections) {
      if (!target.ccClient.ok) return unavailable(target.ccClient.reason);
      const minted = await opaqueToken(target);
      if (!minted.ok) return minted;
      return available(httpLoad(target, connections, [tokenRequest(target.ccClient.value, minted.value.body)]));
    },
  },
  {
    id: '3',
    title: 'POST /auth/login, new session each time',
    async prepare(target, connections) {
      if (!target.apiKey.ok) return unavailable(target.apiKey.reason);
      const tag = runTag();
      const first = await loginWithKey(target, target.apiKey.value, `bench-${tag}-probe-1`);
      if (!first.ok) return first;
      const second = await loginWithKey(target, target.apiKey.value, `bench-${tag}-probe-2`);
      const note = second.ok && second.value === first.value ? 'two session IDs returned the same token' : undefined;
      return available(httpLoad(target, connections, [
        varying({ method: 'POST', path: '/auth/login', headers: { authorization: `Bearer ${target.apiKey.value}`, 'content-type': JSON_TYPE } },
          (n) => JSON.stringify({ session_id: `bench-${tag}-${n}` })),
      ], note));
    },
  },
  {
    id: '4',
    title: 'POST /auth/login, same session (same-token path)',
    async prepare(target, connections) {
      if (!target.apiKey.ok) return unavailable(target.apiKey.reason);
      const session = `bench-same-${runTag()}`;
      const first = await loginWithKey(target, target.apiKey.value, session);
      if (!first.ok) return first;
      const second = await loginWithKey(target, target.apiKey.value, session);
      const note = second.ok && second.value !== first.value ? 'the same session returned a different token (same-token path not taken)' : undefined;
      return available(httpLoad(target, connections, [{
        method: 'POST', path: '/auth/login', headers: { authorization: `Bearer ${target.apiKey.value}`, 'content-type': JSON_TYPE }, body: JSON.stringify({ session_id: session }),
      }], note));
    },
  },
  {
    id: '5',
    title: 'RFC 8693 exchange at /oauth/token (API key, new session each time)',
    async prepare(target, connections) {
      if (!target.apiKey.ok) return unavailable(target.apiKey.reason);
      const apiKey = target.apiKey.value;
      const tag = runTag();
      const body = (n: number): string => formBody({
        grant_type: TOKEN_EXCHANGE, client_id: 'keyport-api-key', subject_token: apiKey,
        subject_token_type: API_KEY_TOKEN_TYPE, session_id: `bench-x-${tag}-${n}`,
      });
      const res = await probe(`${target.url}/oauth/token`, { method: 'POST', headers: { 'content-type': FORM }, body: body(0) });
      if (res.status !== 200 || typeof res.json?.access_token !== 'string') return unavailable(describe('POST', '/oauth/token (token-exchange)', res));
      const note = res.json.issued_token_type ? undefined : 'answer lacks issued_token_type';
      return available(httpLoad(target, connections, [varying({ method: 'POST', path: '/oauth/token', headers: { 'content-type': FORM } }, body)], note));
    },
  },
  {
    id: '6a',
    title: 'introspection of a JWT (client-credentials token)',
    async prepare(target, connections) {
      return introspectionLoad(target, connections, await jwtToken(target), 'a JWT');
    },
  },
  {
    id: '6b',
    title: 'introspection of an opaque token',
    async prepare(target, connections) {
      const minted = await opaqueToken(target);
      return introspectionLoad(target, connections, minted.ok ? available(minted.value.token) : minted, 'an opaque token');
    },
  },
  {
    id: '6c',
    title: 'introspection of an API-key JWT (from /auth/login)',
    async prepare(target, connections) {
      if (!target.apiKey.ok) return unavailable(target.apiKey.reason);
      return introspectionLoad(target, connections, await loginWithKey(target, target.apiKey.value, `bench-introspect-${runTag()}`), 'an API-key JWT');
    },
  },
  {
    id: '7',
    title: 'GET /auth/test with an API key',
    async prepare(target, connections) {
      if (!target.apiKey.ok) return unavailable(target.apiKey.reason);
      const headers = { 'x-api-key': target.apiKey.value };
      const res = await probe(`${target.url}/auth/test`, { headers });
      if (res.status !== 200 || res.json?.authenticated !== true) return unavailable(describe('GET', '/auth/test', res));
      return available(httpLoad(target, connections, [{ method: 'GET', path: '/auth/test', headers }]));
    },
  },
  {
    id: '8',
    title: 'authorization code + PKCE end to end (logins/s, production bcrypt cost)',
    async prepare(target, connections) {
      if (!target.authCode.ok) return unavailable(target.authCode.reason);
      const setup: AuthCodeSetup = { ...target.authCode.value, baseUrl: target.url };
      try {
        await completeLogin(setup);
      } catch (err) {
        return unavailable(err instanceof FlowError ? err.message : `login flow failed: ${String(err)}`);
      }
      // bcrypt runs on libuv's 4 threads; more users than that only queue, so cap them.
      const users = Math.min(connections, 8);
      return available({ measure: (s) => measureLogins(setup, Math.min(s.connections, 8), s.duration, s.warmup), note: `${users} virtual users` });
    },
  },
];

export function scenarioById(id: ScenarioId): Scenario {
  const scenario = SCENARIOS.find((s) => s.id === id);
  if (!scenario) throw new Error(`no scenario ${id}`);
  return scenario;
}
