import { ERROR_CODES } from '../../../src/lib/errors.js';
import type { FuzzResponse } from './http.js';

/** Traces of internals: stack frames, source paths, engine and driver error texts. */
const INTERNALS = [
  /\bat [^\n]{0,200}\.(?:js|ts|mjs|cjs):\d+/,
  /node_modules/,
  /\b(?:TypeError|ReferenceError|RangeError|SyntaxError): /,
  /SQLITE_|ER_[A-Z_]{4,}|QueryFailedError/,
];

function header(res: FuzzResponse, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function isJson(res: FuzzResponse): boolean {
  return /^application\/json/i.test(header(res, 'content-type') ?? '');
}

function isHtml(res: FuzzResponse): boolean {
  return /^text\/html/i.test(header(res, 'content-type') ?? '');
}

function json(res: FuzzResponse): Record<string, unknown> {
  try {
    return JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error(`the body says it is JSON but is not: ${res.body.subarray(0, 200).toString('utf8')}`);
  }
}

/** docs/reference.md §4: `{"error": {"code", "message", "request_id"}}`, the code one of Keyport's, the ID the response's. */
function checkKeyportError(res: FuzzResponse, requestId: string): void {
  const error = json(res).error as Record<string, unknown> | undefined;
  if (!error || typeof error !== 'object') throw new Error('a Keyport error without the docs/reference.md §4 "error" object');
  if (typeof error.code !== 'string' || !(error.code in ERROR_CODES)) throw new Error(`unknown error code ${JSON.stringify(error.code)}`);
  if (ERROR_CODES[error.code as keyof typeof ERROR_CODES].status !== res.status) throw new Error(`code ${error.code} with status ${res.status}`);
  if (typeof error.message !== 'string' || error.message.length === 0) throw new Error('an error without a message');
  if (error.request_id !== requestId) throw new Error(`request_id ${JSON.stringify(error.request_id)} is not the X-Request-Id ${requestId}`);
  if (res.status === 429) {
    if (typeof error.retry_after !== 'number' || error.retry_after < 1) throw new Error('429 without error.retry_after');
    if (header(res, 'retry-after') !== String(error.retry_after)) throw new Error('Retry-After differs from error.retry_after');
  }
  if (res.status === 405 && !header(res, 'allow')) throw new Error('405 without Allow');
}

/**
 * An HTML page of Keyport's (login, dashboard): the error page with the request ID, or a form
 * showing what was wrong (an alert, or a message beside each refused field).
 */
function checkKeyportPage(res: FuzzResponse, requestId: string): void {
  const html = res.body.toString('utf8');
  if (html.includes(`Request ID: <code>${requestId}</code>`) || html.includes('role="alert"') || html.includes('class="field-error"')) return;
  throw new Error('an HTML error page without the request ID or an error message');
}

/** RFC 6749 §5.2 (and the engine's other JSON errors): `error` a string, `error_description` a string if present. */
function checkOAuthError(res: FuzzResponse, requestId: string): void {
  const body = json(res);
  if (typeof body.error === 'object' && body.error !== null) {
    // Not the engine's route after all (nothing answered the path): Keyport's 404/405.
    checkKeyportError(res, requestId);
    return;
  }
  if (typeof body.error !== 'string' || body.error.length === 0) throw new Error('an OAuth error without "error"');
  if (body.error_description !== undefined && typeof body.error_description !== 'string') throw new Error('error_description is not a string');
}

export type Family = 'keyport' | 'engine';

/**
 * The properties every answer must have, whatever was sent: never a 5xx; an X-Request-Id; an
 * error in the body shape of its family (docs/reference.md §4 for Keyport, RFC 6749 for the engine), with
 * the request ID; no stack trace, internal error text or secret (other than what the request
 * itself carried, `sent`) anywhere in it.
 */
export function checkResponse(res: FuzzResponse, family: Family, method: string, secrets: readonly string[], sent: string): void {
  if (res.status >= 500) throw new Error(`answered ${res.status}: ${res.body.subarray(0, 300).toString('utf8')}`);
  const requestId = header(res, 'x-request-id');
  if (!requestId) throw new Error('no X-Request-Id');
  const text = `${JSON.stringify(res.headers)}\n${res.body.toString('utf8')}`;
  // What the request itself carried may come back (a 404 names the path it did not find).
  // A script served as a file (the /docs renderer: Redoc's bundle, byte for byte as npm installed
  // it, test/openapi/serving.test.ts) names node_modules and error classes in its own code; only its headers are ours.
  const scanned = res.status < 400 && /^text\/javascript/i.test(header(res, 'content-type') ?? '') ? JSON.stringify(res.headers) : text;
  for (const pattern of INTERNALS) {
    const found = pattern.exec(scanned)?.[0];
    if (found !== undefined && !sent.includes(found)) throw new Error(`internals in the response (${pattern}): ${found}`);
  }
  for (const secret of secrets) if (text.includes(secret) && !sent.includes(secret)) throw new Error('a secret the request did not carry is in the response');
  if (res.status < 400 || method === 'HEAD' || res.body.length === 0) {
    if (res.status >= 400 && method !== 'HEAD' && res.body.length === 0) throw new Error(`an empty ${res.status}`);
    return;
  }
  if (family === 'keyport') {
    if (isJson(res)) checkKeyportError(res, requestId);
    else if (isHtml(res)) checkKeyportPage(res, requestId);
    else throw new Error(`a ${res.status} that is neither JSON nor HTML (${header(res, 'content-type')})`);
  } else if (isJson(res)) {
    checkOAuthError(res, requestId);
  } else if (!isHtml(res)) {
    throw new Error(`an engine ${res.status} that is neither JSON nor HTML (${header(res, 'content-type')})`);
  }
}
