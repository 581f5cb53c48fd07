/**
 * The grant names of `keyport client:create --grant` (docs/reference.md §6) and the OAuth values stored and
 * shown in client metadata.
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8628: devices and CLIs without a browser (served while DEVICE_FLOW is on). */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export const GRANT_TYPES = {
  authorization_code: 'authorization_code',
  client_credentials: 'client_credentials',
  refresh_token: 'refresh_token',
  token_exchange: TOKEN_EXCHANGE_GRANT,
} as const;

/**
 * Grants a client may be registered for from the CLI and the admin API, kept apart from
 * GRANT_TYPES (the dashboard's checkboxes): the device grant works only while DEVICE_FLOW is on.
 */
export const MORE_GRANT_TYPES = {
  device_code: DEVICE_CODE_GRANT,
} as const;

export type GrantName = keyof typeof GRANT_TYPES;

/** Accepts the CLI name or the OAuth value; undefined when unknown. */
export function grantTypeValue(name: string): string | undefined {
  if (name in GRANT_TYPES) return GRANT_TYPES[name as GrantName];
  if (name in MORE_GRANT_TYPES) return MORE_GRANT_TYPES[name as keyof typeof MORE_GRANT_TYPES];
  return ([...Object.values(GRANT_TYPES), ...Object.values(MORE_GRANT_TYPES)] as string[]).includes(name) ? name : undefined;
}
