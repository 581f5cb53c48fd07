/**
 * What every example API reads from its environment (only here: the servers themselves stay
 * three lines of Keyport). Run one with, e.g.:
 *
 *   KEYPORT_ISSUER=http://localhost:3000 API_URL=http://localhost:4000 \
 *   KEYPORT_CLIENT_ID=cli_… KEYPORT_CLIENT_SECRET=… node dist/examples/koa/server.js
 */
import type { VerifierOptions } from '@keyport/verify';

export interface ExampleConfig {
  /** Where the example listens. */
  readonly host: string;
  readonly port: number;
  /** Options for @keyport/verify. */
  readonly keyport: VerifierOptions;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) {
    process.stderr.write(`example: set ${name}\n`);
    process.exit(2);
  }
  return value;
}

export function exampleConfig(env: NodeJS.ProcessEnv = process.env): ExampleConfig {
  const issuer = required(env, 'KEYPORT_ISSUER');
  // The API's resource identifier (RFC 9728) is the URL it is reached at.
  const resource = env.API_URL ?? 'http://localhost:4000';
  const url = new URL(resource);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    keyport: {
      issuer,
      resource,
      // Tokens for this API (resource=API_URL at the token endpoint), and agents' tokens from
      // POST /auth/login, which are for Keyport's default audience: the issuer.
      audience: [resource, issuer],
      scopesSupported: ['read', 'write'],
      resourceName: 'Orders API (example)',
      // This API's own Keyport client: introspection for DELETE (revocation seen at once) and opaque tokens.
      introspection: { clientId: required(env, 'KEYPORT_CLIENT_ID'), clientSecret: required(env, 'KEYPORT_CLIENT_SECRET') },
    },
  };
}

/** The example's data: the same for every framework. */
export const ORDERS = [{ id: 'ord_1', total: 42 }, { id: 'ord_2', total: 7 }];
