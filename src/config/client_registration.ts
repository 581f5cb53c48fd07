import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { readBool, readEnum, readInt, readList, readString, type Env } from './parse.js';

/** `REGISTRATION_POLICY` values (docs/reference.md §1, docs/oauth.md "Clients without prior registration"). */
export const REGISTRATION_POLICIES = ['closed', 'initial-access-token', 'open-public'] as const;
export type RegistrationPolicy = (typeof REGISTRATION_POLICIES)[number];

/**
 * How clients that Keyport has never seen may come in (MCP clients, agents): by a client ID
 * metadata document (the `client_id` is an https URL of the client's metadata), or by dynamic
 * registration (RFC 7591). Read once with the rest of the configuration.
 */
export interface ClientRegistrationSettings {
  /** `CIMD_ENABLED`: accept https URLs as client ids (client ID metadata documents). Default on. */
  readonly metadataDocuments: boolean;
  /** `CIMD_ALLOWED_HOSTS`: when non-empty, only client_id URLs on these host patterns are fetched. */
  readonly metadataAllowedHosts: readonly string[];
  /** `CIMD_DENIED_HOSTS`: client_id URLs on these host patterns are never fetched (checked first). */
  readonly metadataDeniedHosts: readonly string[];
  /** `REGISTRATION_POLICY`: `closed` (default), `initial-access-token` or `open-public`. */
  readonly registration: RegistrationPolicy;
  /** `REGISTERED_CLIENT_TTL`: seconds a dynamically registered client lives (0: until deleted). */
  readonly registeredClientTtl: number;
  /** `RATE_LIMIT_REGISTRATION_PER_IP`: registration requests per client IP per minute (the `registration_ip` limiter). */
  readonly registrationPerIpPerMinute: number;
  /**
   * `CLIENT_URL_CA_FILE`: a PEM file of extra certificate authorities trusted when Keyport
   * fetches a URL on a client's behalf (client_id metadata documents, jwks_uri), e.g. an internal CA.
   */
  readonly clientUrlCaFile: string | undefined;
}

/**
 * A host pattern: a host name (`app.example.com`) or a wildcard for its subdomains
 * (`*.example.com`, which does not match `example.com` itself). Lowercase, no port or scheme.
 */
const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function readHostPatterns(env: Env, name: string): string[] {
  return readList(env, name).map((entry) => {
    const pattern = entry.toLowerCase();
    if (!HOST_PATTERN.test(pattern) || pattern.length > 253) {
      throw new ConfigError(name, `must list host names or *.domain patterns (no scheme, port or path), got "${entry}"`);
    }
    return pattern;
  });
}

export function readClientRegistrationSettings(env: Env, cwd: string): ClientRegistrationSettings {
  const caFile = readString(env, 'CLIENT_URL_CA_FILE');
  return Object.freeze({
    metadataDocuments: readBool(env, 'CIMD_ENABLED', true),
    metadataAllowedHosts: Object.freeze(readHostPatterns(env, 'CIMD_ALLOWED_HOSTS')),
    metadataDeniedHosts: Object.freeze(readHostPatterns(env, 'CIMD_DENIED_HOSTS')),
    registration: readEnum(env, 'REGISTRATION_POLICY', 'closed', REGISTRATION_POLICIES),
    registeredClientTtl: readInt(env, 'REGISTERED_CLIENT_TTL', 90 * 86_400, 0, 10 * 365 * 86_400),
    registrationPerIpPerMinute: readInt(env, 'RATE_LIMIT_REGISTRATION_PER_IP', 10, 1, 10_000_000),
    clientUrlCaFile: caFile === undefined ? undefined : resolve(cwd, caFile),
  });
}
