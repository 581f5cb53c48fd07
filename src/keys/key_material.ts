import { deriveKey, keyedHash, randomAlphanumeric } from '../lib/crypto.js';
import type { KeyEnv } from './scopes.js';

/** `ak_live_` or `ak_test_` followed by 32 characters of [A-Za-z0-9] (docs/reference.md §3): about 190 bits of entropy. */
export const API_KEY_PATTERN = /^ak_(live|test)_[A-Za-z0-9]{32}$/;
export const API_KEY_RANDOM_LENGTH = 32;
/** Characters kept for display (`ak_live_AbCd`): the env marker plus four random characters. */
export const DISPLAY_PREFIX_LENGTH = 12;
/** Anything starting like this is meant as an API key (and judged as one), not as a bearer token. */
export const API_KEY_MARKER = 'ak_';

/**
 * An agent access token (docs/reference.md §3): `agt_` followed by 32 characters of [A-Za-z0-9],
 * the credential format of the API-auth document Keyport is built from. It is an API key in every
 * respect (an `api_keys` row, verified by the same verifier); only its text differs.
 */
export const AGENT_TOKEN_PATTERN = /^agt_[A-Za-z0-9]{32}$/;
export const AGENT_TOKEN_MARKER = 'agt_';
/** `agt_` plus four random characters: as many random characters shown as for `ak_live_AbCd`. */
export const AGENT_TOKEN_DISPLAY_PREFIX_LENGTH = 8;

/** Which credential format a stored key has; decided by its display prefix, never stored twice. */
export type CredentialKind = 'api_key' | 'agent_token';

/** HKDF purpose of the pepper; changing it invalidates every stored key hash. */
const PEPPER_PURPOSE = 'api-key-hash';

/** Either credential format, checked by length and alphabet alone: a malformed value never reaches the database. */
export function isWellFormedApiKey(value: string): boolean {
  if (value.length === 8 + API_KEY_RANDOM_LENGTH) return API_KEY_PATTERN.test(value);
  if (value.length === AGENT_TOKEN_MARKER.length + API_KEY_RANDOM_LENGTH) return AGENT_TOKEN_PATTERN.test(value);
  return false;
}

/**
 * Anything starting like an API key or an agent access token is judged as one (a malformed one
 * answers `invalid_api_key`), not left for the bearer-token step. A pre-migration agent id
 * (`agt_` + 20 characters) pasted as a credential therefore gets `invalid_api_key` too.
 */
export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(API_KEY_MARKER) || value.startsWith(AGENT_TOKEN_MARKER);
}

export function displayPrefix(apiKey: string): string {
  return apiKey.startsWith(AGENT_TOKEN_MARKER) ? apiKey.slice(0, AGENT_TOKEN_DISPLAY_PREFIX_LENGTH) : apiKey.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** The format of a stored key, from its display prefix. */
export function credentialKind(prefix: string): CredentialKind {
  return prefix.startsWith(AGENT_TOKEN_MARKER) ? 'agent_token' : 'api_key';
}

/** A fresh key from the CSPRNG. Shown to the caller once and never stored. */
export function generateApiKey(env: KeyEnv): string {
  return `ak_${env}_${randomAlphanumeric(API_KEY_RANDOM_LENGTH)}`;
}

/** A fresh agent access token from the CSPRNG. Shown to the caller once and never stored. */
export function generateAgentToken(): string {
  return `${AGENT_TOKEN_MARKER}${randomAlphanumeric(API_KEY_RANDOM_LENGTH)}`;
}

/**
 * Hashes keys for storage and lookup. A keyed hash (not plain SHA-256) so a stolen database
 * cannot even be used to confirm a guessed key without KEYPORT_SECRET.
 */
export class ApiKeyHasher {
  private readonly pepper: Buffer;

  constructor(secret: string) {
    this.pepper = deriveKey(secret, PEPPER_PURPOSE);
  }

  hash(apiKey: string): string {
    return keyedHash(this.pepper, apiKey);
  }
}
