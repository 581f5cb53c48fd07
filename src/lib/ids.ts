import { randomAlphanumeric } from './crypto.js';

/** Prefixed identifiers (`agent_…`, `key_…`) make logs and support tickets readable. */
export type IdPrefix = 'agent' | 'key' | 'cli' | 'dcr' | 'usr' | 'ses' | 'evt' | 'sig' | 'req';

export function newId(prefix: IdPrefix, length = 20): string {
  return `${prefix}_${randomAlphanumeric(length)}`;
}
