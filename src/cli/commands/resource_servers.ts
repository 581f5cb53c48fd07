import type { Command } from 'commander';
import { parseDuration } from '../../lib/duration.js';
import type { ResourceServerStore } from '../../oidc/resource_servers.js';
import { CliError, output, type CliRuntime } from '../context.js';
import { withDependencies, type CliNeeds } from '../dependencies.js';
import { table } from '../table.js';

/** The resource-server store alone; creating and deleting publish, so running instances drop their cached entry. */
function withResourceServers<T>(runtime: CliRuntime, needs: CliNeeds, action: (store: ResourceServerStore) => Promise<T>): Promise<T> {
  return withDependencies(runtime, needs, async (deps) => {
    const { buildResourceServerStore } = await import('../../oidc/stores.js');
    return action(buildResourceServerStore(deps));
  });
}

/** `keyport resource:create | resource:list | resource:delete`: APIs named by `resource` (RFC 8707). */
export function registerResourceServers(program: Command, runtime: CliRuntime): void {
  program
    .command('resource:create')
    .description('register an API (audience) that accepts Keyport access tokens, e.g. one that wants opaque tokens')
    .requiredOption('--audience <uri>', 'absolute URI clients send as `resource`; becomes the token audience')
    .option('--format <format>', 'jwt (verifiable against the JWKS) or opaque (introspection only)', 'jwt')
    .option('--scopes <scopes>', 'scopes this API understands, comma- or space-separated (default: any the client may ask for)')
    .option('--ttl <duration>', 'access-token lifetime, e.g. 15m, 1h (default 1h, at most 24h)')
    .option('--json', 'print one JSON object')
    .action(async (options: { audience: string; format: string; scopes?: string; ttl?: string; json?: boolean }) => {
      if (options.format !== 'jwt' && options.format !== 'opaque') throw new CliError('--format must be jwt or opaque');
      const ttl = options.ttl === undefined ? undefined : parseDuration(options.ttl);
      if (options.ttl !== undefined && ttl === undefined) throw new CliError('--ttl must be a duration such as 15m or 1h');
      const created = await withResourceServers(runtime, { publishes: true, writes: true }, (store) => store.create({
        audience: options.audience,
        format: options.format as 'jwt' | 'opaque',
        scopes: options.scopes?.split(/[\s,]+/).filter(Boolean),
        accessTokenTtl: ttl,
      }));
      const data = { audience: created.audience, format: created.format, scope: created.scope, access_token_ttl: created.accessTokenTtl ?? 3600 };
      output(runtime, Boolean(options.json), { resource_server: data }, [`registered ${data.audience} (${data.format}, ${data.access_token_ttl} s${data.scope ? `, scopes ${data.scope}` : ''})`]);
    });

  program
    .command('resource:list')
    .description('list audiences (the issuer is the built-in default)')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const servers = await withResourceServers(runtime, {}, (store) => store.list());
      output(runtime, Boolean(options.json), { resource_servers: servers }, table(['AUDIENCE', 'FORMAT', 'TTL', 'SCOPES'], servers.map((server) => [
        server.audience, server.format, `${server.access_token_ttl} s`, server.default ? 'any (default audience)' : server.scope ?? 'any',
      ])));
    });

  program
    .command('resource:delete')
    .description('remove an audience; tokens already issued for it stay valid until they expire')
    .argument('<audience>', 'the audience URI')
    .option('--json', 'print one JSON object')
    .action(async (audience: string, options: { json?: boolean }) => {
      await withResourceServers(runtime, { publishes: true, writes: true }, (store) => store.delete(audience));
      output(runtime, Boolean(options.json), { deleted: audience }, [`deleted ${audience}`]);
    });
}
