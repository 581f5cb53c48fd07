import type { Command } from 'commander';
import { parseDuration } from '../../lib/duration.js';
import type { MetadataClientStore } from '../../oidc/metadata_clients.js';
import { CliError, output, type CliRuntime } from '../context.js';
import { withDependencies, type CliNeeds } from '../dependencies.js';

/** The metadata-client store with what blocking does (tokens end), as the server wires it. */
function withMetadataClients<T>(runtime: CliRuntime, needs: CliNeeds, action: (store: MetadataClientStore) => Promise<T>): Promise<T> {
  return withDependencies(runtime, needs, async (deps) => {
    const [{ MetadataClientStore }, stores, { tokenIdsFor }] = await Promise.all([import('../../oidc/metadata_clients.js'), import('../../oidc/stores.js'), import('../../oidc/token_ids.js')]);
    const store = new MetadataClientStore(deps.database.dataSource, deps.audit);
    const revocations = stores.buildRevocationRegistry(deps);
    stores.endTokensOfBlockedMetadataClients(store, stores.buildPayloadStore(deps, revocations, tokenIdsFor(deps.config.secret)), revocations, deps.config);
    return action(store);
  });
}

/**
 * Clients without prior registration (docs/reference.md §6, docs/oauth.md): `client:registration-token`
 * (an initial access token for REGISTRATION_POLICY=initial-access-token), `client:block` /
 * `client:unblock` (a client known by its metadata document URL), and `resource:metadata`
 * (the RFC 9728 document a resource server, e.g. an MCP server, should serve).
 */
export function registerMcpClients(program: Command, runtime: CliRuntime): void {
  program
    .command('client:registration-token')
    .description('issue an initial access token for dynamic client registration (REGISTRATION_POLICY=initial-access-token); shown once')
    .option('--ttl <duration>', 'how long it may be used, e.g. 1h, 7d (default 1d, at most 30d)', '1d')
    .option('--json', 'print one JSON object')
    .action(async (options: { ttl: string; json?: boolean }) => {
      const ttl = parseDuration(options.ttl);
      if (ttl === undefined || ttl < 60 || ttl > 30 * 86_400) throw new CliError('--ttl must be a duration between 1m and 30d, such as 1h or 7d');
      const issued = await withDependencies(runtime, { writes: true }, async (deps) => {
        const [stores, { tokenIdsFor }, { issueInitialAccessToken }] = await Promise.all([import('../../oidc/stores.js'), import('../../oidc/token_ids.js'), import('../../oidc/registration.js')]);
        const payloads = stores.buildPayloadStore(deps, stores.buildRevocationRegistry(deps), tokenIdsFor(deps.config.secret));
        const result = await issueInitialAccessToken(payloads, ttl);
        await deps.audit.record({ action: 'client.registration_token_issued', actor: 'cli', targetType: 'client', targetId: 'registration', details: { expires_at: result.expiresAt.toISOString() } });
        return { result, policy: deps.config.clientRegistration.registration };
      });
      const data = { initial_access_token: issued.result.token, expires_at: issued.result.expiresAt.toISOString() };
      const lines = [`initial access token (shown once): ${data.initial_access_token}`, `expires ${data.expires_at}; send it as "Authorization: Bearer …" to POST /oauth/register`];
      if (issued.policy !== 'initial-access-token') lines.push(`note: REGISTRATION_POLICY is ${issued.policy}; the token is only asked for when it is initial-access-token`);
      output(runtime, Boolean(options.json), data, lines);
    });

  for (const [name, blocking] of [['client:block', true], ['client:unblock', false]] as const) {
    program
      .command(`${name} <client_id_url>`)
      .description(blocking
        ? 'block a client known by its metadata document URL: no fetch, no authorization, its tokens stop working at once'
        : 'let a blocked metadata-document client in again')
      .option('--json', 'print one JSON object')
      .action(async (url: string, options: { json?: boolean }) => {
        const { toMetadataClientView } = await import('../../oidc/metadata_clients.js');
        const row = await withMetadataClients(runtime, { publishes: true, writes: true }, (store) => (blocking ? store.block(url) : store.unblock(url)));
        const view = toMetadataClientView(row);
        output(runtime, Boolean(options.json), { metadata_client: view }, [`${blocking ? 'blocked' : 'unblocked'} ${view.client_id}`]);
      });
  }

  program
    .command('resource:metadata <audience>')
    .description('print the RFC 9728 protected-resource metadata a registered resource (e.g. an MCP server) should serve, and where')
    .action(async (audience: string) => {
      const printed = await withDependencies(runtime, {}, async (deps) => {
        const [{ buildResourceServerStore }, { protectedResourceDocument }] = await Promise.all([import('../../oidc/stores.js'), import('../../oidc/protected_resource_metadata.js')]);
        const policy = await buildResourceServerStore(deps).find(audience);
        if (!policy) throw new CliError(`no resource server ${audience} (register it with resource:create --audience ${audience})`);
        return protectedResourceDocument(policy, deps.config.issuer);
      });
      runtime.stderr.write(`serve this at ${printed.url}\n`);
      runtime.stdout.write(`${JSON.stringify(printed.document, null, 2)}\n`);
    });
}
