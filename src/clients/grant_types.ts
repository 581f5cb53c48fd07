/**
 * The grant names of `keyport client:create --grant` (docs/reference.md §6) and the OAuth values stored and
 * shown in client metadata.
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

export const GRANT_TYPES = {
  authorization_code: 'authorization_code',
  client_credentials: 'client_credentials',
  refresh_token: 'refresh_token',
  token_exchange: TOKEN_EXCHANGE_GRANT,
} as const;

export type GrantName = keyof typeof GRANT_TYPES;

/** Accepts the CLI name or the OAuth value; undefined when unknown. */
export function grantTypeValue(name: string): string | undefined {
  if (name in GRANT_TYPES) return GRANT_TYPES[name as GrantName];
  return (Object.values(GRANT_TYPES) as string[]).includes(name) ? name : undefined;
}
