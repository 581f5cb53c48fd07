import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { examples, type Example } from './examples.js';
import type { FuzzFixture } from './fixture.js';
import type { FuzzRequest } from './http.js';

/** A route to aim at: its path template (`:id`, `{*rest}`) and the methods it answers. */
export interface Target {
  readonly template: string;
  readonly methods: readonly string[];
}

const OTHER_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'PURGE'] as const;

/** `arbitrary` one time in `oneIn`, otherwise null (fc.option's `freq` is the odds of null instead). */
function rarely<T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

/** Body and query field names of every Keyport DTO and OAuth endpoint: requests that get past "unknown field". */
const FIELD_NAMES = [
  'api_key', 'session_id', 'scope', 'refresh_token', 'name', 'contact_email', 'key_name', 'scopes', 'env', 'access_type',
  'expires_in', 'expires_at', 'allow_ips', 'rate_limit', 'agent_id', 'grace', 'grant_types', 'redirect_uris',
  'post_logout_redirect_uris', 'public', 'jwks', 'jwks_uri', 'csrf', 'email', 'password', 'next', 'cancel', 'decision',
  'confirm', 'ip_allow_list', 'rate_limit_per_minute', 'rate_limit_per_hour', 'rate_limit_burst', 'q', 'limit', 'target', 'status',
  'grant_type', 'client_id', 'client_secret', 'code', 'redirect_uri', 'code_verifier', 'resource', 'audience', 'subject_token',
  'subject_token_type', 'requested_token_type', 'actor_token', 'actor_token_type', 'token', 'token_type_hint', 'client_assertion',
  'client_assertion_type', 'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt',
  'id_token_hint', 'post_logout_redirect_uri', 'login_hint', 'max_age', 'request', 'request_uri', 'claims', 'response_mode',
  'access_token_query', 'per_minute', 'burst', '__proto__', 'constructor',
] as const;

const OAUTH_VALUES = [
  'client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:keyport:params:oauth:token-type:api_key', 'urn:ietf:params:oauth:token-type:access_token', 'code', 'S256', 'plain',
  'read', 'write', 'admin', 'openid email offline_access', 'https://client.example.com/cb', 'http://169.254.169.254/latest',
  'keyport-api-key', 'none', 'consent', 'allow', 'deny', 'yes', '1', 'live', 'test', 'integrations', 'transactional', '90d',
  '10.0.0.0/8', '::1', 'access_token', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
] as const;

/** Strings that have broken parsers before: huge, control characters, bidi, surrogates, encodings, injection shapes. */
const NASTY_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\r\n', '\u202e', '\u200b', '\ud800', '\udfff', '😀', 'é', 'e\u0301', '%FF', '%', '%00', '%%',
  '../../etc/passwd', '..', '{}', '[]', 'null', 'true', '-1', '1e309', 'NaN', '0x10', '<script>alert(1)</script>', "' OR 1=1 --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal template-injection probe, not a template
  '${7*7}', '{{7*7}}', '\\', '"', 'ak_live_', 'ak_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'eyJhbGciOiJub25lIn0.e30.', 'agt_', 'key_',
  'cli_', 'usr_', '__proto__', 'constructor', 'ｆｕｌｌｗｉｄｔｈ', 'x'.repeat(300), 'y'.repeat(5000),
] as const;

function credentialValues(fixture: FuzzFixture): string[] {
  const c = fixture.credentials;
  return [c.apiKey, c.agentId, c.keyId, c.refreshToken, c.accessToken, c.adminToken, c.client.id, c.client.secret, c.publicClientId, c.dashboardCsrf, c.email, c.password, 'fuzz'];
}

/** A string: valid-looking, hostile, or random (unicode of every kind, occasionally huge). */
function text(fixture: FuzzFixture): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...credentialValues(fixture), ...OAUTH_VALUES) },
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 70_000 }).map((length) => 'z'.repeat(length)) },
  );
}

/** A JSON value of any type, wrong types included. */
function value(fixture: FuzzFixture): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: text(fixture) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
    { weight: 1, arbitrary: fc.array(text(fixture), { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

function fieldName(): fc.Arbitrary<string> {
  return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FIELD_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });
}

/** Percent-encodes text as a form or query component, or (sometimes) leaves broken encodings in. */
function encodeComponent(raw: string, broken: boolean): string {
  // Broken: `%` is left as it is, so `%FF` and a lone `%` reach the server undecodable.
  return Array.from(raw, (char) => {
    if (broken && /[A-Za-z0-9%._~-]/.test(char)) return char;
    try {
      return encodeURIComponent(char);
    } catch {
      return '%ED%A0%80'; // a lone surrogate, as the bytes UTF-8 would give it
    }
  }).join('');
}

function pairs(fixture: FuzzFixture): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.tuple(fieldName(), text(fixture)), { maxLength: 8 }), fc.boolean(), fc.boolean()).map(([entries, broken, duplicate]) => {
    const list = duplicate && entries.length > 0 ? [...entries, entries[0]!] : entries;
    return list.map(([name, item]) => `${encodeComponent(name, broken)}=${encodeComponent(item, broken)}`).join('&');
  });
}

/** Nesting depths: shallow, or deep enough to have overflowed recursive DTO code (~2000 levels and up). */
const DEPTH = fc.oneof(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 2000, max: 6000 }));

/** JSON text: objects of known fields with hostile values, any JSON, deep nesting, duplicates, truncation. */
function jsonText(fixture: FuzzFixture): fc.Arbitrary<string> {
  const object = fc.dictionary(fieldName(), value(fixture), { maxKeys: 8 }).map((fields) => JSON.stringify(fields));
  return fc.oneof(
    { weight: 6, arbitrary: object },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((json) => JSON.stringify(json) ?? 'null') },
    { weight: 1, arbitrary: DEPTH.map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`) },
    { weight: 1, arbitrary: fc.tuple(fieldName(), DEPTH).map(([name, depth]) => `{${JSON.stringify(name)}:${'['.repeat(depth)}${']'.repeat(depth)}}`) },
    { weight: 1, arbitrary: fc.tuple(fieldName(), text(fixture), text(fixture)).map(([name, a, b]) => `{${JSON.stringify(name)}:${JSON.stringify(a)},${JSON.stringify(name)}:${JSON.stringify(b)}}`) },
    { weight: 1, arbitrary: object.map((json) => json.slice(0, Math.max(1, json.length - 3))) },
  );
}

/** Body bytes for a content type, sometimes with bytes that are not UTF-8 spliced in. */
function bodyBytes(fixture: FuzzFixture, kind: 'json' | 'form' | 'other'): fc.Arbitrary<Buffer> {
  const textArb = kind === 'json' ? jsonText(fixture) : kind === 'form' ? pairs(fixture) : fc.string({ maxLength: 200 });
  return fc.tuple(textArb, rarely(fc.uint8Array({ minLength: 1, maxLength: 4, min: 0x80, max: 0xff }), 6), fc.nat())
    .map(([body, junk, at]) => {
      const bytes = Buffer.from(body, 'utf8');
      if (!junk) return bytes;
      const cut = bytes.length === 0 ? 0 : at % bytes.length;
      return Buffer.concat([bytes.subarray(0, cut), Buffer.from(junk), bytes.subarray(cut)]);
    });
}

const CONTENT_TYPES = [
  ['application/json', 'json'], ['application/json; charset=utf-8', 'json'], ['application/json; charset=latin1', 'json'],
  ['application/x-www-form-urlencoded', 'form'], ['application/x-www-form-urlencoded; charset=UTF-8', 'form'],
  ['text/plain', 'other'], ['multipart/form-data; boundary=x', 'other'], ['application/xml', 'other'], ['application/jwt', 'other'],
  ['json', 'json'], ['application/json;;;', 'json'],
] as const;

/** A path segment: a real ID, a random or hostile one, or nothing. */
function segment(fixture: FuzzFixture): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(fixture.credentials.agentId, fixture.credentials.keyId, fixture.credentials.client.id, 'fuzz', 'default', 'agt_nope', 'key_nope', 'cli_nope') },
    { weight: 3, arbitrary: text(fixture).map((raw) => encodeComponent(raw, false)) },
    { weight: 1, arbitrary: fc.constantFrom('%FF', '%', '%00', '%2F', '%E0%A4%A', 'lone%ED%A0%80', '..', '.', '%2e%2e', '') },
  );
}

function fillTemplate(template: string, fixture: FuzzFixture): fc.Arbitrary<string> {
  const holes = template.match(/:[A-Za-z_]+|\{\*[A-Za-z_]+\}/g) ?? [];
  return fc.tuple(fc.array(segment(fixture), { minLength: holes.length, maxLength: holes.length }), rarely(segment(fixture), 6))
    .map(([values, extra]) => {
      let index = 0;
      const path = template.replace(/:[A-Za-z_]+|\{\*[A-Za-z_]+\}/g, () => values[index++] ?? '');
      return extra === null ? path : `${path}/${extra}`;
    });
}

function headers(fixture: FuzzFixture): fc.Arbitrary<Record<string, string>> {
  const c = fixture.credentials;
  const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 });
  const forwardedFor = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('garbage'), fc.tuple(fc.ipV4(), fc.ipV6()).map(([a, b]) => `${a}, ${b}`));
  return fc.record({
    authorization: fc.constantFrom(
      `Bearer ${c.adminToken}`, `Bearer ${c.accessToken}`, `Bearer ${c.apiKey}`, 'Bearer ', 'Bearer eyJhbGciOiJub25lIn0.e30.', `Bearer ${c.adminToken}x`,
      basic(c.client.id, c.client.secret), basic(c.client.id, 'wrong'), 'Basic !!!', 'Basic Og==', 'Digest x', `Bearer ${'a'.repeat(9000)}`,
    ),
    'x-api-key': fc.oneof(fc.constantFrom(c.apiKey, `${c.apiKey}x`, 'ak_test_short', ''), headerText),
    cookie: fc.constantFrom(c.dashboardCookie, 'keyport_dashboard=forged', 'kp_session=x; kp_interaction=y', 'a=%FF'),
    'x-forwarded-for': forwardedFor,
    'x-forwarded-proto': fc.constantFrom('https', 'http', 'https, http', 'gopher'),
    'x-request-id': fc.oneof(fc.constantFrom('fuzz-req-12345678', '<script>'), headerText),
    origin: fc.constantFrom('https://evil.example', 'null'),
    accept: fc.constantFrom('application/json', 'text/html', '*/*', 'application/jwt'),
    dpop: fc.constantFrom('eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.x', 'garbage'),
  }, { requiredKeys: [] });
}

/** A form body as a browser sends it: a list value is the same name repeated. */
function formText(fields: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [name, item] of Object.entries(fields)) {
    for (const one of Array.isArray(item) ? item : [item]) params.append(name, typeof one === 'string' ? one : JSON.stringify(one));
  }
  return params.toString();
}

/** One change to a valid example: none, a field set to any value or nested deep, a field removed, a field given twice. */
function mutated(fixture: FuzzFixture, example: Example): fc.Arbitrary<{ fields: Record<string, unknown>; twice?: string; deep?: { name: string; depth: number } }> {
  const names = Object.keys(example.fields);
  const existing = names.length > 0 ? fc.constantFrom(...names) : fieldName();
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({ fields: { ...example.fields } }) },
    { weight: 4, arbitrary: fc.tuple(fc.oneof(existing, fieldName()), value(fixture)).map(([name, item]) => ({ fields: { ...example.fields, [name]: item } })) },
    { weight: 1, arbitrary: existing.map((name) => ({ fields: Object.fromEntries(Object.entries(example.fields).filter(([key]) => key !== name)) })) },
    { weight: 1, arbitrary: existing.map((name) => ({ fields: { ...example.fields }, twice: name })) },
    { weight: 1, arbitrary: fc.tuple(existing, DEPTH).map(([name, depth]) => ({ fields: Object.fromEntries(Object.entries(example.fields).filter(([key]) => key !== name)), deep: { name, depth } })) },
  );
}

/** A valid example of the target's route with one thing changed, sometimes with random headers on top. */
function exampleRequests(fixture: FuzzFixture, target: Target, list: readonly Example[]): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...list).chain((example) => fc.record({
    change: mutated(fixture, example),
    path: example.path === undefined ? fillTemplate(target.template, fixture) : fc.constant(example.path),
    extraHeaders: rarely(headers(fixture), 4),
    gzip: rarely(fc.constantFrom('gzip', 'gzip-claimed'), 8),
  }).map(({ change, path, extraHeaders, gzip }): FuzzRequest => {
    const { fields, twice, deep } = change;
    const json = example.type === 'json' && !example.query;
    const encoded = json ? JSON.stringify(fields) : formText(fields);
    // One more member written by hand (JSON.stringify cannot give a key twice), or one more pair.
    const extra = twice !== undefined ? [twice, '"again"'] : deep && json ? [deep.name, `${'['.repeat(deep.depth)}${']'.repeat(deep.depth)}`] : undefined;
    const withTwice = extra === undefined ? encoded
      : json ? `${encoded.slice(0, -1)}${encoded.length > 2 ? ',' : ''}${JSON.stringify(extra[0])}:${extra[1]}}`
        : `${encoded}&${encodeURIComponent(extra[0]!)}=again`;
    const requestHeaders: Record<string, string> = { ...example.headers, ...(extraHeaders ?? {}) };
    if (example.query) {
      return { method: target.methods.includes('GET') ? 'GET' : target.methods[0]!, path: `${path}?${withTwice}`, headers: requestHeaders };
    }
    requestHeaders['content-type'] = example.type === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
    let body = Buffer.from(withTwice, 'utf8');
    if (gzip) {
      if (gzip === 'gzip') body = gzipSync(body);
      requestHeaders['content-encoding'] = 'gzip';
    }
    return { method: target.methods.includes('POST') ? 'POST' : target.methods[0]!, path, headers: requestHeaders, body };
  }));
}

/**
 * A request aimed at one of the targets: a method (usually one the route answers), its path
 * with real, hostile or random segments, a query string, headers with real and broken
 * credentials, and a body in a content type and encoding that may or may not match it.
 */
export function requests(fixture: FuzzFixture, targets: readonly Target[]): fc.Arbitrary<FuzzRequest> {
  const known = examples(fixture);
  // Routes that take input get more of the requests: that is where parsing and validation live.
  return fc.oneof(...targets.map((target) => {
    const list = known[target.template];
    const random = randomRequests(fixture, target);
    return list
      ? { weight: 4, arbitrary: fc.oneof({ weight: 1, arbitrary: random }, { weight: 2, arbitrary: exampleRequests(fixture, target, list) }) }
      : { weight: 1, arbitrary: random };
  }));
}

/** Anything at all aimed at the target's path. */
function randomRequests(fixture: FuzzFixture, target: Target): fc.Arbitrary<FuzzRequest> {
  return fc.record({
    method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...target.methods) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
    path: fillTemplate(target.template, fixture),
    query: rarely(pairs(fixture), 2),
    headers: headers(fixture),
    contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { freq: 6 }),
    encoding: rarely(fc.constantFrom('gzip', 'gzip-claimed', 'deflate', 'br', 'identity', 'compress'), 5),
    seed: fc.nat(),
  }).chain((shape) => {
    const kind = shape.contentType?.[1] ?? (shape.method === 'POST' ? 'json' : 'other');
    return bodyBytes(fixture, kind).map((bytes): FuzzRequest => {
      const hasBody = shape.contentType !== null || (shape.method === 'POST' && shape.seed % 3 === 0);
      const requestHeaders: Record<string, string> = { ...shape.headers };
      let body = hasBody ? bytes : undefined;
      if (shape.contentType) requestHeaders['content-type'] = shape.contentType[0];
      if (body && shape.encoding) {
        if (shape.encoding === 'gzip') body = gzipSync(body);
        requestHeaders['content-encoding'] = shape.encoding === 'gzip-claimed' ? 'gzip' : shape.encoding;
      }
      const path = shape.query === null ? shape.path : `${shape.path}?${shape.query}`;
      return { method: shape.method, path, headers: requestHeaders, body };
    });
  });
}
