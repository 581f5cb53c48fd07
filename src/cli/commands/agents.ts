import type { Command } from 'commander';
import type { AgentRecord } from '../../keys/index.js';
import { agentJson, apiKeyJson } from '../../keys/presenters.js';
import { output, type CliRuntime } from '../context.js';
import { withKeys } from '../dependencies.js';
import { CLI_ACTOR, addKeyOptions, keyDetails, keyOptionsFromFlags, secretLines, type KeyFlags } from './keys.js';

function agentLine(agent: AgentRecord): string {
  return [agent.id, agent.status.padEnd(7), JSON.stringify(agent.name), agent.contactEmail ?? '-', agent.createdAt.toISOString()].join('  ');
}

/** `agent:create`, `agent:list`, `agent:revoke` (docs/reference.md §6). */
export function registerAgents(program: Command, runtime: CliRuntime): void {
  addKeyOptions(program
    .command('agent:create')
    .description('create an agent (service account) and its first API key; prints the key once')
    .requiredOption('--name <name>', 'the agent name')
    .option('--contact <email>', 'contact email of the agent (and default of its keys)')
    .option('--key-name <name>', 'a label for the first key (default: "default")'))
    .option('--json', 'print one JSON object')
    .action(async (flags: KeyFlags & { name: string; keyName?: string }) => {
      await withKeys(runtime, {}, async (keys, { config }) => {
        // --contact belongs to the agent; the key inherits it.
        const created = await keys.agents.createWithKey(
          { name: flags.name, contactEmail: flags.contact, key: keyOptionsFromFlags({ ...flags, contact: undefined }, flags.keyName) },
          CLI_ACTOR,
        );
        output(runtime, Boolean(flags.json), {
          agent: agentJson(created.agent),
          key: apiKeyJson(created.key, config.rateLimit),
          api_key: created.apiKey,
        }, [
          `created agent ${created.agent.id} (${created.agent.name})`,
          `created key ${created.key.id}`,
          ...keyDetails(created.key, config),
          ...secretLines(created.apiKey),
        ]);
      });
    });

  program
    .command('agent:list')
    .description('list agents, newest first')
    .option('--json', 'print one JSON object')
    .action(async (flags: { json?: boolean }) => {
      await withKeys(runtime, {}, async (keys) => {
        const agents = await keys.agents.list({ limit: 1000 });
        output(runtime, Boolean(flags.json), { agents: agents.map(agentJson) }, agents.length ? agents.map(agentLine) : ['no agents']);
      });
    });

  program
    .command('agent:revoke')
    .description('revoke an agent and every key it holds, at once')
    .requiredOption('--id <id>', 'the agent id (agt_…)')
    .option('--json', 'print one JSON object')
    .action(async (flags: { id: string; json?: boolean }) => {
      await withKeys(runtime, { revokes: true }, async (keys) => {
        const revoked = await keys.agents.revoke(flags.id, CLI_ACTOR);
        output(runtime, Boolean(flags.json), { agent: agentJson(revoked.agent), revoked_keys: [...revoked.revokedKeyIds], already_revoked: revoked.alreadyRevoked }, [
          revoked.alreadyRevoked
            ? `agent ${revoked.agent.id} was already revoked`
            : `revoked agent ${revoked.agent.id} and ${revoked.revokedKeyIds.length} key(s)${revoked.revokedKeyIds.length ? `: ${revoked.revokedKeyIds.join(', ')}` : ''}`,
        ]);
      });
    });
}
