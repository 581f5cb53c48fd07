import * as querystring from 'node:querystring';
import type { KeyportContext } from '../http/context.js';
import { ReplayableBody } from './engine/index.js';

/**
 * What Keyport's fast paths in front of the engine (introspection_fast_path.ts,
 * client_credentials_fast_path.ts) share: which requests they look at, how they read the form and
 * the client's secret credentials, and how they answer or step aside. Each rule here is the
 * engine's own reading of the same request, or narrower: whatever is not read exactly as the
 * engine would read it makes the fast path step aside.
 */

/** Bodies up to this size are read ahead; larger ones go straight to the engine (a JWT is at most 8 KiB). */
const FAST_PATH_MAX_BODY_BYTES = 12 * 1024;

/** Exactly the form content type, optionally with charset utf-8 (the engine decodes both as UTF-8). */
const FORM_CONTENT_TYPE = /^application\/x-www-form-urlencoded\s*(?:;\s*charset\s*=\s*(?:utf-8|"utf-8")\s*)?$/i;
/** Headers that make the engine's client authentication, sender constraints or CORS handling take another branch. */
const DECLINED_HEADERS = ['origin', 'transfer-encoding', 'oauth-client-attestation', 'oauth-client-attestation-pop', 'dpop'] as const;
/**
 * Client ids and secrets the engine's `decodeAuthToken` leaves as they are: printable ASCII without
 * space, `%` and `+` (which it would URL-decode). Keyport's ids and secrets are all of this kind.
 */
const PLAIN_CREDENTIAL = /^[\x21-\x24\x26-\x2a\x2c-\x7e]{1,512}$/;
const BASIC_SCHEME = /^basic$/i;

/** The engine's check of the Basic credentials' base64 (lib/shared/client_auth.js isValidBase64). */
function isValidBase64(input: string): boolean {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(input);
  if (!match?.[1]) return false;
  const remainder = match[1].length % 4;
  if (!match[2]) return remainder !== 1;
  return (match[1].length + match[2].length) % 4 === 0 && match[2].length === 4 - remainder;
}

export interface SecretCredentials {
  readonly clientId: string;
  readonly secret: string;
}

/** Whether the request line and headers are ones a fast path understands (decided before the body is read). */
export function admissibleForm(ctx: KeyportContext<unknown>): boolean {
  if (ctx.querystring !== '') return false;
  const { headers } = ctx.request;
  if (!FORM_CONTENT_TYPE.test(headers['content-type'] ?? '')) return false;
  for (const name of DECLINED_HEADERS) if (headers[name] !== undefined) return false;
  const length = Number(headers['content-length']);
  return Number.isInteger(length) && length > 0 && length <= FAST_PATH_MAX_BODY_BYTES;
}

/**
 * The form's parameters when every one is among `names`, single and non-empty (the engine refuses
 * repeated parameters and treats empty ones as absent); undefined otherwise.
 *
 * A form without `%` or `+` has nothing to decode: it is split here, and what passes the split is
 * what querystring.parse would give; what fails it (an unknown or repeated name, a pair without a
 * name or a value, an empty pair such as a trailing `&`) is left to the engine without parsing it
 * a second time: undefined is always a safe answer. Only a form with something to decode goes
 * through querystring.parse. Profiles of introspection put querystring.parse at ~10–13 µs per
 * request for a body of one JWT; the split is a few, and a token request of another grant (an
 * exchange, a refresh) is turned away at its first unknown name.
 */
export function parseFastPathForm(text: string, names: ReadonlySet<string>): Record<string, string> | undefined {
  if (text.includes('%') || text.includes('+')) return parseEncodedForm(text, names);
  const params: Record<string, string> = {};
  for (const pair of text.split('&')) {
    const equals = pair.indexOf('=');
    if (equals <= 0 || equals === pair.length - 1) return undefined;
    const name = pair.slice(0, equals);
    if (!names.has(name) || params[name] !== undefined) return undefined;
    params[name] = pair.slice(equals + 1);
  }
  return params;
}

function parseEncodedForm(text: string, names: ReadonlySet<string>): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(querystring.parse(text))) {
    // Arrays are repeated parameters; empty values the engine treats as absent.
    if (!names.has(name) || typeof value !== 'string' || value.length === 0) return undefined;
    params[name] = value;
  }
  return params;
}

/** client_secret_basic or client_secret_post credentials, read as the engine reads them; undefined for anything else. */
export function secretCredentialsOf(authorization: string | undefined, params: Record<string, string>): SecretCredentials | undefined {
  if (authorization === undefined) {
    const { client_id: clientId, client_secret: secret } = params;
    if (clientId === undefined || secret === undefined || !PLAIN_CREDENTIAL.test(clientId) || !PLAIN_CREDENTIAL.test(secret)) return undefined;
    return { clientId, secret };
  }
  // One mechanism only (the engine refuses a header plus a body secret).
  if (params.client_secret !== undefined) return undefined;
  const parts = authorization.split(' ');
  if (parts.length !== 2 || !BASIC_SCHEME.test(parts[0]!) || !isValidBase64(parts[1]!)) return undefined;
  const basic = Buffer.from(parts[1]!, 'base64').toString('utf8');
  const colon = basic.indexOf(':');
  if (colon === -1) return undefined;
  const clientId = basic.slice(0, colon);
  const secret = basic.slice(colon + 1);
  if (!PLAIN_CREDENTIAL.test(clientId) || !PLAIN_CREDENTIAL.test(secret)) return undefined;
  if (params.client_id !== undefined && params.client_id !== clientId) return undefined;
  return { clientId, secret };
}

/** A fast path's answer: the JSON body, and fields set after it (as the engine's later steps set them). */
export interface FastPathAnswer {
  readonly body: Record<string, unknown>;
  readonly trailingFields?: Record<string, string>;
}

/**
 * Reads the (admissible, bounded) body and asks `answer` for the answer. None, or any failure (a
 * database failure, anything unexpected): the body is handed back unread and the engine goes on
 * (`next()`), so every error and the 503 of an outage come from the engine. An answer is sent as
 * the engine sends a 200: the route label the engine's request would get, `cache-control: no-store`
 * as the engine's noCache step sets it (same name, same place among the headers), the JSON body.
 */
export async function answerInFrontOfEngine(ctx: KeyportContext<unknown>, next: () => Promise<unknown>, routeName: string, answer: (text: string) => Promise<FastPathAnswer | undefined>): Promise<unknown> {
  const body = await ReplayableBody.read(ctx.req);
  let answered: FastPathAnswer | undefined;
  try {
    const text = body.text();
    answered = text === undefined ? undefined : await answer(text);
  } catch {
    answered = undefined;
  }
  if (!answered) {
    body.replay();
    return next();
  }
  ctx.state.routeName = routeName;
  ctx.status = 200;
  ctx.set('cache-control', 'no-store');
  ctx.body = answered.body;
  if (answered.trailingFields) ctx.set(answered.trailingFields);
  return undefined;
}
