import { InvalidArgumentError, type Command } from 'commander';
import type { Config } from '../../config/config.js';
import type { ApiKeyRecord, KeyOptionsInput } from '../../keys/index.js';
import { apiKeyJson } from '../../keys/presenters.js';
import { keyStatus } from '../../keys/records.js';
import { output, type CliRuntime } from '../context.js';
import { withKeys } from '../dependencies.js';
import { table } from '../table.js';

/** The CLI acts as this audit actor. */
export const CLI_ACTOR = { actor: 'cli' } as const;

export interface KeyFlags {
  scopes?: string;
  env?: string;
  accessType?: string;
  expiresIn?: string;
  allowIp?: string;
  rateLimitPerMin?: number;
  rateLimitPerHour?: number;
  rateLimitBurst?: number;
  contact?: string;
  json?: boolean;
}

function wholeNumber(value: string): number {
  if (!/^\d{1,12}$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number.');
  return Number(value.trim());
}

/** The key options shared by `agent:create` (its first key) and `key:create`. Validation is the domain's. */
export function addKeyOptions(command: Command): Command {
  return command
    .option('--scopes <list>', 'comma-separated scopes: read, write, delete, admin or configured extras (default: read)')
    .option('--env <env>', 'live or test (default: live)')
    .option('--access-type <type>', 'admin, integrations or transactional (default: integrations)')
    .option('--expires-in <duration>', 'lifetime such as 90d, 24h, 30m (default: never expires)')
    .option('--allow-ip <list>', 'comma-separated IPv4/IPv6 addresses or CIDR ranges the key may be used from')
    .option('--rate-limit-per-min <n>', 'override RATE_LIMIT_PER_MIN for this key', wholeNumber)
    .option('--rate-limit-per-hour <n>', 'override RATE_LIMIT_PER_HOUR for this key', wholeNumber)
    .option('--rate-limit-burst <n>', 'override RATE_LIMIT_BURST for this key', wholeNumber);
}

export function keyOptionsFromFlags(flags: KeyFlags, name: string | undefined): KeyOptionsInput {
  const rateLimit = flags.rateLimitPerMin !== undefined || flags.rateLimitPerHour !== undefined || flags.rateLimitBurst !== undefined
    ? { perMinute: flags.rateLimitPerMin, perHour: flags.rateLimitPerHour, burst: flags.rateLimitBurst }
    : undefined;
  return {
    name,
    scopes: flags.scopes,
    env: flags.env,
    accessType: flags.accessType,
    expiresIn: flags.expiresIn,
    ipAllowList: flags.allowIp,
    rateLimit,
    contactEmail: flags.contact,
  };
}

const when = (date: Date | null, none: string): string => (date ? date.toISOString() : none);

/** The human form of `key:list`: one row per key under a header. */
export function keyTable(keys: readonly ApiKeyRecord[]): string[] {
  return table(['ID', 'PREFIX', 'STATUS', 'ACCESS TYPE', 'ENV', 'SCOPES', 'AGENT', 'NAME'],
    keys.map((key) => [key.id, key.prefix, keyStatus(key), key.accessType, key.env, key.scopes.join(','), key.agentId, key.name]));
}

/** Every field of one key, for `key:show` and after creation. */
export function keyDetails(key: ApiKeyRecord, config: Config): string[] {
  const json = apiKeyJson(key, config.rateLimit);
  const limit = json.effective_rate_limit;
  return [
    `id:            ${key.id}`,
    `agent:         ${key.agentId}`,
    `name:          ${key.name}`,
    `prefix:        ${key.prefix}`,
    `status:        ${json.status}${key.replacedBy ? ` (replaced by ${key.replacedBy}, works until ${when(key.graceUntil, '-')})` : ''}`,
    `scopes:        ${key.scopes.join(', ')}`,
    `access type:   ${key.accessType}`,
    `env:           ${key.env}`,
    `expires:       ${when(key.expiresAt, 'never')}`,
    `allowed IPs:   ${key.ipAllowList ? key.ipAllowList.join(', ') : 'any'}`,
    `rate limit:    ${limit.per_minute}/min, ${limit.per_hour}/hour, burst ${limit.burst}${key.rateLimit ? ' (key override)' : ' (default)'}`,
    `contact:       ${key.contactEmail ?? '-'}`,
    `created:       ${key.createdAt.toISOString()}`,
    `last used:     ${when(key.lastUsedAt, 'never')}`,
    ...(key.revokedAt ? [`revoked:       ${key.revokedAt.toISOString()}`] : []),
  ];
}

/** The secret, once, with the warning that goes with it. */
export function secretLines(apiKey: string): string[] {
  return ['', `  ${apiKey}`, '', 'Store this key now: it is shown only once and cannot be recovered.'];
}

/** `key:create`, `key:list`, `key:show`, `key:rotate`, `key:revoke` (docs/reference.md §6). */
export function registerKeys(program: Command, runtime: CliRuntime): void {
  addKeyOptions(program
    .command('key:create')
    .description('create a further API key for an agent; prints the key once')
    .requiredOption('--agent <id>', 'the owning agent (agent_…)')
    .option('--name <name>', 'a label for the key (default: "default")')
    .option('--contact <email>', "contact for this key (default: the agent's)"))
    .option('--json', 'print one JSON object')
    .action(async (flags: KeyFlags & { agent: string; name?: string }) => {
      await withKeys(runtime, { writes: true }, async (keys, { config }) => {
        const created = await keys.apiKeys.create(flags.agent, keyOptionsFromFlags(flags, flags.name), CLI_ACTOR);
        output(runtime, Boolean(flags.json), { key: apiKeyJson(created.key, config.rateLimit), api_key: created.apiKey }, [
          `created key ${created.key.id} for agent ${created.key.agentId}`,
          ...keyDetails(created.key, config),
          ...secretLines(created.apiKey),
        ]);
      });
    });

  program
    .command('key:list')
    .description('list API keys, newest first')
    .option('--agent <id>', "only this agent's keys")
    .option('--limit <n>', 'at most this many (default 1000)', wholeNumber)
    .option('--json', 'print one JSON object')
    .action(async (flags: { agent?: string; limit?: number; json?: boolean }) => {
      await withKeys(runtime, {}, async ({ apiKeys }, { config }) => {
        const keys = await apiKeys.list({ agentId: flags.agent, limit: flags.limit ?? 1000 });
        output(runtime, Boolean(flags.json), { keys: keys.map((key) => apiKeyJson(key, config.rateLimit)) }, keys.length ? keyTable(keys) : ['no keys']);
      });
    });

  program
    .command('key:show')
    .description('show one API key (never the key itself)')
    .argument('<id>', 'the key id (key_…)')
    .option('--json', 'print one JSON object')
    .action(async (id: string, flags: { json?: boolean }) => {
      await withKeys(runtime, {}, async (keys, { config }) => {
        const key = await keys.apiKeys.get(id);
        output(runtime, Boolean(flags.json), { key: apiKeyJson(key, config.rateLimit) }, keyDetails(key, config));
      });
    });

  program
    .command('key:rotate')
    .description('issue a new key with the same settings; the old one keeps working for the grace period')
    .argument('<id>', 'the key id (key_…)')
    .option('--grace <duration>', 'how long the old key keeps working, e.g. 24h, 30m; 0 revokes it at once', '24h')
    .option('--json', 'print one JSON object')
    .action(async (id: string, flags: { grace: string; json?: boolean }) => {
      // `--grace 0` revokes the old key at once; any rotation tells running instances to drop it from their caches.
      await withKeys(runtime, { revokes: true }, async (keys, { config }) => {
        const rotated = await keys.apiKeys.rotate(id, { grace: flags.grace }, CLI_ACTOR);
        const previous = rotated.previous;
        output(runtime, Boolean(flags.json), {
          key: apiKeyJson(rotated.key, config.rateLimit),
          api_key: rotated.apiKey,
          previous_key: apiKeyJson(previous, config.rateLimit),
        }, [
          `rotated ${previous.id}: new key ${rotated.key.id} (${rotated.key.prefix})`,
          previous.status === 'revoked' ? `the old key ${previous.id} is revoked` : `the old key ${previous.id} keeps working until ${when(previous.graceUntil, '-')}`,
          ...secretLines(rotated.apiKey),
        ]);
      });
    });

  program
    .command('key:revoke')
    .description('revoke an API key at once (sessions and tokens issued from it end too)')
    .argument('<id>', 'the key id (key_…)')
    .option('--json', 'print one JSON object')
    .action(async (id: string, flags: { json?: boolean }) => {
      await withKeys(runtime, { revokes: true }, async (keys, { config }) => {
        const { key, alreadyRevoked } = await keys.apiKeys.revoke(id, CLI_ACTOR);
        output(runtime, Boolean(flags.json), { key: apiKeyJson(key, config.rateLimit), already_revoked: alreadyRevoked }, [
          alreadyRevoked ? `key ${key.id} was already revoked` : `revoked key ${key.id} (${key.prefix})`,
        ]);
      });
    });
}
