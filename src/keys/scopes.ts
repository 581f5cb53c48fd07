import { InvalidRequest } from '../lib/errors.js';

/** Scopes every Keyport installation knows (docs/reference.md §3). KEYPORT_EXTRA_SCOPES adds more. */
export const BASE_SCOPES = ['read', 'write', 'delete', 'admin'] as const;

/** A scope name: lowercase, no spaces (OAuth scope strings are space-separated) and no commas (the CLI splits on them). */
export const SCOPE_NAME = /^[a-z][a-z0-9_.:-]{0,63}$/;

export const ACCESS_TYPES = ['admin', 'integrations', 'transactional'] as const;
export type AccessType = (typeof ACCESS_TYPES)[number];

export const KEY_ENVS = ['live', 'test'] as const;
export type KeyEnv = (typeof KEY_ENVS)[number];

/** A key created without scopes gets this (docs/reference.md §6). */
export const DEFAULT_SCOPES: readonly string[] = ['read'];
export const DEFAULT_ACCESS_TYPE: AccessType = 'integrations';
export const DEFAULT_ENV: KeyEnv = 'live';

/**
 * What each access type may hold:
 * - `admin`: any scope, including `admin`; the only type the admin API accepts.
 * - `integrations`: read, write, delete and every configured extra scope, never `admin`.
 * - `transactional`: read and write only (payment-style keys that act, never destroy).
 */
export function scopesAllowedFor(accessType: AccessType, extraScopes: readonly string[]): readonly string[] {
  switch (accessType) {
    case 'admin': return [...BASE_SCOPES, ...extraScopes];
    case 'integrations': return ['read', 'write', 'delete', ...extraScopes];
    case 'transactional': return ['read', 'write'];
  }
}

/** Every scope this installation knows, built-in first. */
export function knownScopes(extraScopes: readonly string[]): readonly string[] {
  return [...BASE_SCOPES, ...extraScopes];
}

/**
 * Turns requested scopes (a list, or one comma/space-separated string) into a canonical list:
 * deduplicated, in the order of `knownScopes`. Unknown scopes and scopes the access type may not
 * hold are a 400 naming the culprit.
 */
export function resolveScopes(requested: readonly string[] | string | undefined, accessType: AccessType, extraScopes: readonly string[]): string[] {
  if (requested === undefined) return [...DEFAULT_SCOPES];
  const names = (typeof requested === 'string' ? requested.split(/[\s,]+/) : requested)
    .map((scope) => (typeof scope === 'string' ? scope.trim() : scope))
    .filter((scope) => scope !== '');
  if (names.length === 0) throw new InvalidRequest('scopes: give at least one scope (a key without scopes gets "read" when scopes are omitted).');
  const known = knownScopes(extraScopes);
  for (const scope of names) {
    if (typeof scope !== 'string' || !known.includes(scope)) {
      throw new InvalidRequest(`scopes: unknown scope "${String(scope).slice(0, 64)}"; known scopes: ${known.join(', ')}.`);
    }
  }
  const allowed = scopesAllowedFor(accessType, extraScopes);
  const refused = names.find((scope) => !allowed.includes(scope));
  if (refused) {
    throw new InvalidRequest(`scopes: access type "${accessType}" may not hold scope "${refused}"; it may hold: ${allowed.join(', ')}.`);
  }
  return known.filter((scope) => names.includes(scope));
}
