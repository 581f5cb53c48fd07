/** What the Authorization header holds, as far as RFC 6750 §2.1 is concerned. */
export type PresentedCredential =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'api_key' }
  | { readonly kind: 'token'; readonly token: string; readonly scheme?: 'DPoP' };

const BEARER = /^Bearer(?:[ \t]+(.*))?$/i;
/** b64token (RFC 6750 §2.1). */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Keyport's API keys and agent access tokens (docs/reference.md §3): credentials for POST /auth/login, not for APIs. */
const API_KEY = /^(?:ak_(?:live|test)_|agt_)[A-Za-z0-9]{32}$/;
/** Far above any Keyport token; bounds the work done on a hostile header. */
export const MAX_TOKEN_LENGTH = 8192;

/**
 * Reads the bearer token from an Authorization header. Only the header method is supported (no
 * form body, no query string: RFC 6750 §5.3 advises against them). Another scheme (Basic, DPoP…)
 * counts as no bearer credential at all.
 */
export function readBearer(header: string | readonly string[] | undefined): PresentedCredential {
  if (Array.isArray(header)) return header.length === 1 ? readBearer(header[0]) : { kind: 'malformed', reason: 'more than one Authorization header' };
  const value = typeof header === 'string' ? header.trim() : '';
  if (value === '') return { kind: 'none' };
  const match = BEARER.exec(value);
  if (!match) return { kind: 'none' };
  const token = (match[1] ?? '').trim();
  if (token === '') return { kind: 'malformed', reason: 'the Bearer credential is empty' };
  if (token.length > MAX_TOKEN_LENGTH) return { kind: 'malformed', reason: 'the bearer token is too long' };
  if (!TOKEN68.test(token)) return { kind: 'malformed', reason: 'the bearer token is malformed' };
  if (API_KEY.test(token)) return { kind: 'api_key' };
  return { kind: 'token', token };
}

/** A compact JWS (three base64url parts) rather than an opaque token. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

const DPOP_SCHEME = /^DPoP(?:[ \t]+(.*))?$/i;

/**
 * RFC 9449 §7.1: `Authorization: DPoP <token>`, read like a bearer token (same b64token rules);
 * only when the verifier accepts DPoP. Anything else is the bearer reading.
 */
export function readCredential(header: string | readonly string[] | undefined, acceptDpop: boolean): PresentedCredential {
  const bearer = readBearer(header);
  if (!acceptDpop || bearer.kind !== 'none' || typeof header !== 'string') return bearer;
  const match = DPOP_SCHEME.exec(header.trim());
  if (!match) return bearer;
  const read = readBearer(`Bearer ${match[1] ?? ''}`);
  if (read.kind === 'malformed') return { kind: 'malformed', reason: read.reason.replace('Bearer credential', 'DPoP credential').replace('bearer token', 'DPoP token') };
  return read.kind === 'token' ? { ...read, scheme: 'DPoP' } : read;
}
