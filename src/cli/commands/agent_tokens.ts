import type { Command } from 'commander';
import type { ApiKeyRecord } from '../../keys/index.js';
import { isLegacyAgentId, legacyAgentIdWarning } from '../../keys/agent_ids.js';
import type { Config } from '../../config/config.js';
import type { CreatedAgent } from '../../keys/agents.js';
import { agentJson, apiKeyJson } from '../../keys/presenters.js';
import { notice, output, type CliRuntime } from '../context.js';
import { withKeys } from '../dependencies.js';
import { CLI_ACTOR, addKeyOptions, keyDetails, keyOptionsFromFlags, type KeyFlags } from './keys.js';

/** The secret, once: an agent access token is pasted where the seed document says "API Access". */
export function tokenSecretLines(token: string): string[] {
  return ['', `  ${token}`, '', 'Store this agent access token now: it is shown only once and cannot be recovered.', 'Send it as "Authorization: Bearer <token>" (or ?access_token_query=<token> where ALLOW_QUERY_API_KEY=true).'];
}

/**
 * `agent:token:create`, `agent:token:show`, `agent:token:rotate`, `agent:token:revoke`
 * (docs/reference.md §6): the agent's one agent access token (`agt_…`), addressed by the agent.
 * The token is an API key in every respect, so `key:show`/`key:rotate`/`key:revoke` with its
 * `key_…` id work as well.
 */
export function registerAgentTokens(program: Command, runtime: CliRuntime): void {
  addKeyOptions(program
    .command('agent:token:create')
    .description("issue the agent's access token (agt_…); prints it once")
    .requiredOption('--agent <id>', 'the agent (agent_…)')
    .option('--name <name>', 'a label for the token (default: "API access")')
    .option('--contact <email>', "contact for this token (default: the agent's)"))
    .option('--json', 'print one JSON object')
    .action(async (flags: KeyFlags & { agent: string; name?: string }) => {
      await withKeys(runtime, { writes: true }, async (keys, { config }) => {
        const created = await keys.agentTokens.create(flags.agent, keyOptionsFromFlags(flags, flags.name), CLI_ACTOR);
        output(runtime, Boolean(flags.json), { key: apiKeyJson(created.key, config.rateLimit), agent_token: created.apiKey }, [
          `created agent access token ${created.key.id} for agent ${created.key.agentId}`,
          ...keyDetails(created.key, config),
          ...tokenSecretLines(created.apiKey),
        ]);
      });
    });

  program
    .command('agent:token:show')
    .description("show the agent's access token (never the token itself)")
    .requiredOption('--agent <id>', 'the agent (agent_…)')
    .option('--json', 'print one JSON object')
    .action(async (flags: { agent: string; json?: boolean }) => {
      await withKeys(runtime, {}, async (keys, { config }) => {
        const token: ApiKeyRecord | undefined = await keys.agentTokens.current(flags.agent);
        output(runtime, Boolean(flags.json), { key: token ? apiKeyJson(token, config.rateLimit) : null }, token ? keyDetails(token, config) : ['the agent has no agent access token']);
      });
    });

  program
    .command('agent:token:rotate')
    .description("issue a new agent access token; the old one keeps working for the grace period")
    .requiredOption('--agent <id>', 'the agent (agent_…)')
    .option('--grace <duration>', 'how long the old token keeps working, e.g. 24h, 30m; 0 revokes it at once', '24h')
    .option('--json', 'print one JSON object')
    .action(async (flags: { agent: string; grace: string; json?: boolean }) => {
      await withKeys(runtime, { revokes: true }, async (keys, { config }) => {
        const rotated = await keys.agentTokens.rotate(flags.agent, { grace: flags.grace }, CLI_ACTOR);
        const previous = rotated.previous;
        output(runtime, Boolean(flags.json), {
          key: apiKeyJson(rotated.key, config.rateLimit),
          agent_token: rotated.apiKey,
          previous_key: apiKeyJson(previous, config.rateLimit),
        }, [
          `rotated ${previous.id}: new agent access token ${rotated.key.id} (${rotated.key.prefix})`,
          previous.status === 'revoked' ? `the old token ${previous.id} is revoked` : `the old token ${previous.id} keeps working until ${previous.graceUntil?.toISOString() ?? '-'}`,
          ...tokenSecretLines(rotated.apiKey),
        ]);
      });
    });

  program
    .command('agent:token:revoke')
    .description("revoke the agent's access token at once (sessions and tokens issued from it end too)")
    .requiredOption('--agent <id>', 'the agent (agent_…)')
    .option('--json', 'print one JSON object')
    .action(async (flags: { agent: string; json?: boolean }) => {
      await withKeys(runtime, { revokes: true }, async (keys, { config }) => {
        const { key, alreadyRevoked } = await keys.agentTokens.revoke(flags.agent, CLI_ACTOR);
        output(runtime, Boolean(flags.json), { key: apiKeyJson(key, config.rateLimit), already_revoked: alreadyRevoked }, [
          alreadyRevoked ? `agent access token ${key.id} was already revoked` : `revoked agent access token ${key.id} (${key.prefix})`,
        ]);
      });
    });
}

/**
 * Agent ids in the legacy `agt_…` form still work for one release (src/keys/agent_ids.ts); every
 * command that takes one (`--agent`, `--id`) says so on stderr before it runs.
 */
export function registerLegacyAgentIdWarning(program: Command, runtime: CliRuntime): void {
  program.hook('preAction', (_program, command) => {
    const options = command.opts() as Record<string, unknown>;
    // `--agent`/`--id` options, and a positional id (`agent:revoke agt_…`).
    const given = new Set([options.agent, options.id, ...command.args].filter(isLegacyAgentId));
    for (const value of given) notice(runtime, `warning: ${legacyAgentIdWarning(value)}`);
  });
}

/** `agent:create --with-token`: the agent and its access token, printed like `agent:token:create`. */
export function printCreatedWithToken(runtime: CliRuntime, json: boolean, created: CreatedAgent, config: Config): void {
  output(runtime, json, {
    agent: agentJson(created.agent),
    key: apiKeyJson(created.key, config.rateLimit),
    agent_token: created.apiKey,
  }, [
    `created agent ${created.agent.id} (${created.agent.name})`,
    `created agent access token ${created.key.id}`,
    ...keyDetails(created.key, config),
    ...tokenSecretLines(created.apiKey),
  ]);
}
