/**
 * The baseline of `npm run bench`: a bare oidc-provider from node_modules with its default
 * in-memory adapter, configured like Keyport for the paths the bench compares (client
 * credentials with ES256 JWT access tokens for a resource indicator, opaque tokens for a second
 * resource, introspection on, routes under /oauth/). Runs as its own process so its CPU and RSS
 * are measured the same way as Keyport's.
 *
 * Environment: PORT (required), BENCH_CLIENT_ID, BENCH_CLIENT_SECRET.
 * Prints one JSON line `{"ready": true, "url": "...", "pid": N}` on stdout once listening.
 */
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

/** The two resource servers of the baseline; the bench asks for one of them with `resource=`. */
export const BASELINE_RESOURCES = {
  jwt: 'urn:keyport-bench:jwt',
  opaque: 'urn:keyport-bench:opaque',
} as const;

const SCOPE = 'read write';

function signingKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', use: 'sig', alg: 'ES256' };
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must name a free TCP port');
  const clientId = process.env.BENCH_CLIENT_ID ?? 'bench';
  const clientSecret = process.env.BENCH_CLIENT_SECRET ?? 'bench-secret-0123456789abcdefghijklmnop';
  const url = `http://127.0.0.1:${port}`;

  const provider = new Provider(url, {
    // No adapter: the engine's default in-memory (LRU) adapter is the point of the baseline.
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: SCOPE,
    }],
    jwks: { keys: [signingKey()] },
    scopes: ['read', 'write'],
    ttl: { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600 },
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      introspection: '/oauth/introspect',
      revocation: '/oauth/revoke',
      jwks: '/oauth/jwks',
      userinfo: '/oauth/userinfo',
      end_session: '/oauth/logout',
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // The engine's default, without its "should change" warning on every start.
        allowedPolicy: async (ctx, client, token) => !(client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client?.clientId),
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => BASELINE_RESOURCES.jwt,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource === BASELINE_RESOURCES.jwt) {
            return { scope: SCOPE, audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'ES256' } } };
          }
          if (resource === BASELINE_RESOURCES.opaque) {
            return { scope: SCOPE, audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
          }
          throw new errors.InvalidTarget();
        },
      },
    },
  });
  // The engine logs nothing itself; swallow server_error events like a quiet production setup.
  provider.on('server_error', () => {});

  const server = provider.listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  process.stdout.write(`${JSON.stringify({ ready: true, url, pid: process.pid })}\n`);

  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bare_provider: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
