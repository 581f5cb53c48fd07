import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ClientService } from '../../clients/client_service.js';
import { CliError, output, type CliRuntime } from '../context.js';
import { withDependencies, type CliDependencies, type CliNeeds } from '../dependencies.js';

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

interface CreateOptions {
  name: string;
  grant: string[];
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  scopes?: string[];
  public?: boolean;
  jwks?: string;
  jwksUri?: string;
  json?: boolean;
}

/** `keyport client:create | client:list | client:delete` (docs/reference.md §6). */
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
    .option('--json', 'print one JSON object')
    .action(async (options: CreateOptions) => {
      const { result, view } = await withClients(runtime, {}, async (clients, { toClientView }) => {
        const result = await clients.create({
        name: options.name,
        grantTypes: list(options.grant),
        redirectUris: options.redirectUri,
        postLogoutRedirectUris: options.postLogoutRedirectUri,
        scopes: options.scopes ? list(options.scopes) : undefined,
        public: Boolean(options.public),
        jwks: readJwks(options.jwks),
        jwksUri: options.jwksUri,
        });
        return { result, view: toClientView(result.client) };
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
          ...clients.map((client) => `${client.client_id}  ${client.client_name}  [${client.grant_types.join(', ')}]  ${client.token_endpoint_auth_method}${client.registration ? `  (registered dynamically${client.expires_at ? `, expires ${client.expires_at}` : ''})` : ''}`),
          ...metadataClients.map((client) => `${client.client_id}  ${client.client_name ?? '(no name)'}  metadata document on ${client.host}  first used ${client.first_used_at}, last ${client.last_used_at}${client.blocked ? '  BLOCKED' : ''}`),
        ]
        : ['no clients']);
    });

  program
    .command('client:delete')
    .description('delete an OAuth client; its tokens stop working at once')
    .argument('<id>', 'client id (cli_…)')
    .option('--json', 'print one JSON object')
    .action(async (id: string, options: { json?: boolean }) => {
      // Its tokens end on every instance: engine rows deleted, a registry row and bus messages (src/oidc/stores.ts).
      await withClients(runtime, { publishes: true }, async (clients, { deps }) => {
        const { buildPayloadStore, buildRevocationRegistry, endTokensOfDeletedClients } = await import('../../oidc/stores.js');
        const revocations = buildRevocationRegistry(deps);
        endTokensOfDeletedClients(clients, buildPayloadStore(deps, revocations), revocations, deps.config);
        await clients.delete(id);
      });
      output(runtime, Boolean(options.json), { deleted: id }, [`deleted ${id}`]);
    });
}
