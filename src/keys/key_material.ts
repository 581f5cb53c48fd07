import { deriveKey, keyedHash, randomAlphanumeric } from '../lib/crypto.js';
import type { KeyEnv } from './scopes.js';

/** `ak_live_` or `ak_test_` followed by 32 characters of [A-Za-z0-9] (docs/reference.md §3): about 190 bits of entropy. */
export const API_KEY_PATTERN = /^ak_(live|test)_[A-Za-z0-9]{32}$/;
export const API_KEY_RANDOM_LENGTH = 32;
/** Characters kept for display (`ak_live_AbCd`): the env marker plus four random characters. */
export const DISPLAY_PREFIX_LENGTH = 12;
/** Anything starting like this is meant as an API key (and judged as one), not as a bearer token. */
export const API_KEY_MARKER = 'ak_';

/** HKDF purpose of the pepper; changing it invalidates every stored key hash. */
const PEPPER_PURPOSE = 'api-key-hash';

export function isWellFormedApiKey(value: string): boolean {
  return value.length === 8 + API_KEY_RANDOM_LENGTH && API_KEY_PATTERN.test(value);
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(API_KEY_MARKER);
}

export function displayPrefix(apiKey: string): string {
  return apiKey.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** A fresh key from the CSPRNG. Shown to the caller once and never stored. */
export function generateApiKey(env: KeyEnv): string {
  return `ak_${env}_${randomAlphanumeric(API_KEY_RANDOM_LENGTH)}`;
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
