import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ClientService } from '../../clients/client_service.js';
import { TOKEN_EXCHANGE_GRANT } from '../../clients/grant_types.js';
import { CliError, notice, output, type CliRuntime } from '../context.js';
import { withDependencies, type CliDependencies, type CliNeeds } from '../dependencies.js';
import { namesakes, namesakeWarning } from '../namesakes.js';
import { table } from '../table.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function list(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(/[\s,]+/)).filter(Boolean);
}

/** `--jwks '{"keys":[…]}'` or `--jwks @path/to/jwks.json`. */
function readJwks(value: string | undefined): { keys: Array<Record<string, unknown>> } | undefined {
  if (value === undefined) return undefined;
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch {
      throw new CliError(`cannot read the JWKS file ${value.slice(1)}`);
    }
  }
  try {
    return JSON.parse(text) as { keys: Array<Record<string, unknown>> };
  } catch {
    throw new CliError('--jwks is not valid JSON');
  }
}

/** The client store alone (no engine); `toClientView` comes with it, loaded on demand like it. */
async function withClients<T>(
  runtime: CliRuntime,
  needs: CliNeeds,
  action: (clients: ClientService, tools: { toClientView: typeof import('../../clients/client_service.js').toClientView; deps: CliDependencies }) => Promise<T>,
): Promise<T> {
  return withDependencies(runtime, needs, async (deps) => {
    const [{ toClientView }, { buildClientService }] = await Promise.all([import('../../clients/client_service.js'), import('../../oidc/stores.js')]);
    return action(buildClientService(deps), { toClientView, deps });
  });
}

/**
 * Scopes a client may be given: the OIDC ones, those API keys know (read, write, delete, admin,
 * KEYPORT_EXTRA_SCOPES) and those registered resource servers declare. The same rule as for keys:
 * a typo (`--scopes raed`) is refused instead of creating a client that can never get the scope.
 * Malformed names are left to the client service, which says "Invalid scope".
 */
async function checkKnownScopes(deps: CliDependencies, scopes: readonly string[]): Promise<void> {
  const [{ OIDC_SCOPES, SCOPE_TOKEN }, { knownScopes }, { buildResourceServerStore }] = await Promise.all([
    import('../../oidc/policy.js'),
    import('../../keys/scopes.js'),
    import('../../oidc/stores.js'),
  ]);
  const candidates = scopes.filter((scope) => SCOPE_TOKEN.test(scope));
  if (candidates.length === 0) return;
  const known = new Set<string>([...OIDC_SCOPES, ...knownScopes(deps.config.extraScopes)]);
  const unknown = () => candidates.find((scope) => !known.has(scope));
  if (unknown() === undefined) return;
  for (const server of await buildResourceServerStore(deps).list()) {
    for (const scope of server.scope?.split(' ') ?? []) known.add(scope);
  }
  const culprit = unknown();
  if (culprit !== undefined) {
    throw new CliError(`scopes: unknown scope "${culprit}"; known scopes: ${[...known].join(', ')} (add API scopes with KEYPORT_EXTRA_SCOPES or resource:create --scopes)`);
  }
}

interface CreateOptions {
  name: string;
  grant: string[];
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  scopes?: string[];
  public?: boolean;
  jwks?: string;
  jwksUri?: string;
  requireDpop?: boolean;
  requirePar?: boolean;
  json?: boolean;
}

/** `urn:ietf:params:oauth:grant-type:token-exchange` → `token_exchange`, as `--grant` takes it. */
function shortGrant(grant: string): string {
  return grant === TOKEN_EXCHANGE_GRANT ? 'token_exchange' : grant;
}

/** `keyport client:create | client:list | client:rotate-secret | client:delete` (docs/reference.md §6). */
export function registerClients(program: Command, runtime: CliRuntime): void {
  program
    .command('client:create')
    .description('register an OAuth client; prints its id and (once) its secret')
    .requiredOption('--name <name>', 'display name, shown on the consent page')
    .requiredOption('--grant <grants>', 'grant types, comma-separated or repeated: authorization_code, client_credentials, refresh_token, token_exchange', collect)
    .option('--redirect-uri <uri>', 'redirect URI (repeatable; required for authorization_code)', collect)
    .option('--post-logout-redirect-uri <uri>', 'where end-session may send the browser back to (repeatable)', collect)
    .option('--scopes <scopes>', 'allowed scopes, comma- or space-separated (default: read, plus openid email for authorization_code and offline_access for refresh_token)', collect)
    .option('--public', 'a public client (browser or native app): no secret, PKCE required')
    .option('--jwks <json|@file>', 'public keys for private_key_jwt client authentication')
    .option('--jwks-uri <url>', 'URL of public keys for private_key_jwt client authentication')
    .option('--require-dpop', 'every token request must carry a DPoP proof (RFC 9449): tokens are always sender-constrained')
    .option('--require-par', 'authorization requests only through the PAR endpoint (RFC 9126; authorization_code)')
    .option('--json', 'print one JSON object')
    .action(async (options: CreateOptions) => {
      const { result, view, existing } = await withClients(runtime, { writes: true }, async (clients, { toClientView, deps }) => {
        const scopes = options.scopes ? list(options.scopes) : undefined;
        if (scopes) await checkKnownScopes(deps, scopes);
        const existing = await namesakes(deps.database.dataSource, 'oauth_clients', options.name);
        const result = await clients.create({
          name: options.name,
          grantTypes: list(options.grant),
          redirectUris: options.redirectUri,
          postLogoutRedirectUris: options.postLogoutRedirectUri,
          scopes,
          public: Boolean(options.public),
          jwks: readJwks(options.jwks),
          jwksUri: options.jwksUri,
          requireDpop: Boolean(options.requireDpop),
          requirePar: Boolean(options.requirePar),
        });
        return { result, view: toClientView(result.client), existing };
      });
      const { client_id: clientId, ...rest } = view;
      const data = { client_id: clientId, ...(result.clientSecret ? { client_secret: result.clientSecret } : {}), ...rest };
      output(runtime, Boolean(options.json), data, [
        `client_id:     ${view.client_id}`,
        ...(result.clientSecret ? [`client_secret: ${result.clientSecret}`, '               (shown once: store it now; Keyport keeps only a hash)'] : []),
        `name:          ${view.client_name}`,
        `grant_types:   ${view.grant_types.join(', ')}`,
        `auth method:   ${view.token_endpoint_auth_method}`,
        `scope:         ${view.scope}`,
        ...(view.redirect_uris.length ? [`redirect_uris: ${view.redirect_uris.join(', ')}`] : []),
      ]);
      const warning = namesakeWarning('client', view.client_name, existing);
      if (warning) notice(runtime, warning);
    });

  program
    .command('client:list')
    .description('list OAuth clients')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const { clients, metadataClients } = await withClients(runtime, {}, async (store, { toClientView, deps }) => {
        // Clients known by a metadata document URL that obtained a grant (src/oidc/metadata_clients.ts).
        const { MetadataClientStore, toMetadataClientView } = await import('../../oidc/metadata_clients.js');
        const metadata = await new MetadataClientStore(deps.database.dataSource, deps.audit).list();
        return { clients: (await store.list()).map(toClientView), metadataClients: metadata.map(toMetadataClientView) };
      });
      // --json keeps the shape of GET /admin/clients; the metadata clients are GET /admin/metadata-clients there.
      output(runtime, Boolean(options.json), { clients }, clients.length || metadataClients.length
        ? [
          ...(clients.length ? table(['CLIENT ID', 'AUTH METHOD', 'GRANT TYPES', 'SCOPE', 'NAME'], clients.map((client) => [
            client.client_id, client.token_endpoint_auth_method, client.grant_types.map(shortGrant).join(','), client.scope,
            client.registration ? `${client.client_name} (registered dynamically${client.expires_at ? `, expires ${client.expires_at}` : ''})` : client.client_name,
          ])) : []),
          ...(metadataClients.length ? ['', ...table(['METADATA CLIENT (client_id URL)', 'HOST', 'FIRST USED', 'LAST USED', 'STATUS', 'NAME'], metadataClients.map((client) => [
            client.client_id, client.host, client.first_used_at, client.last_used_at, client.blocked ? 'blocked' : 'active', client.client_name ?? '(no name)',
          ]))] : []),
        ]
        : ['no clients']);
    });

  program
    .command('client:rotate-secret')
    .description('give a confidential client a new secret, printed once; the old one stops working at once')
    .argument('<id>', 'client id (cli_…)')
    .option('--json', 'print one JSON object')
    .action(async (id: string, options: { json?: boolean }) => {
      // Publishes: running instances drop the client from their caches, so the old secret fails there too.
      const { clientSecret, view } = await withClients(runtime, { publishes: true, writes: true }, async (clients, { toClientView }) => {
        const rotated = await clients.rotateSecret(id);
        return { clientSecret: rotated.clientSecret, view: toClientView(rotated.client) };
      });
      output(runtime, Boolean(options.json), { client_id: view.client_id, client_secret: clientSecret }, [
        `client_id:     ${view.client_id}`,
        `client_secret: ${clientSecret}`,
        '               (shown once: store it now; the old secret no longer works, tokens already issued stay valid)',
      ]);
    });

  program
    .command('client:delete')
    .description('delete an OAuth client; its tokens stop working at once')
    .argument('<id>', 'client id (cli_…)')
    .option('--json', 'print one JSON object')
    .action(async (id: string, options: { json?: boolean }) => {
      // Its tokens end on every instance: engine rows deleted, a registry row and bus messages (src/oidc/stores.ts).
      await withClients(runtime, { publishes: true, writes: true }, async (clients, { deps }) => {
        const { buildPayloadStore, buildRevocationRegistry, endTokensOfDeletedClients } = await import('../../oidc/stores.js');
        const revocations = buildRevocationRegistry(deps);
        endTokensOfDeletedClients(clients, buildPayloadStore(deps, revocations), revocations, deps.config);
        await clients.delete(id);
      });
      output(runtime, Boolean(options.json), { deleted: id }, [`deleted ${id}`]);
    });
}
