import { Option, type Command } from 'commander';
import type { AgentRecord } from '../../keys/index.js';
import { agentJson, apiKeyJson } from '../../keys/presenters.js';
import { CliError, notice, output, type CliRuntime } from '../context.js';
import { withKeys } from '../dependencies.js';
import { namesakes, namesakeWarning } from '../namesakes.js';
import { table } from '../table.js';
import { printCreatedWithToken } from './agent_tokens.js';
import { CLI_ACTOR, addKeyOptions, keyDetails, keyOptionsFromFlags, secretLines, type KeyFlags } from './keys.js';

function agentTable(agents: readonly AgentRecord[]): string[] {
  return table(['ID', 'STATUS', 'NAME', 'CONTACT', 'CREATED'], agents.map((agent) => [agent.id, agent.status, agent.name, agent.contactEmail ?? '-', agent.createdAt.toISOString()]));
}

/** `agent:create`, `agent:list`, `agent:revoke` (docs/reference.md §6). */
export function registerAgents(program: Command, runtime: CliRuntime): void {
  addKeyOptions(program
    .command('agent:create')
    .description('create an agent (service account) and its first API key; prints the key once')
    .requiredOption('--name <name>', 'the agent name')
    .option('--contact <email>', 'contact email of the agent (and default of its keys)')
    .option('--key-name <name>', 'a label for the first key (default: "default")'))
    .option('--with-token', 'make the first credential the agent access token (agt_…) instead of an ak_ key')
    .option('--json', 'print one JSON object')
    .action(async (flags: KeyFlags & { name: string; keyName?: string; withToken?: boolean }) => {
      await withKeys(runtime, { writes: true }, async (keys, { config, database }) => {
        const existing = await namesakes(database.dataSource, 'agents', flags.name, "status = 'active'");
        // --contact belongs to the agent; the key inherits it.
        const created = await keys.agents.createWithKey(
          { name: flags.name, contactEmail: flags.contact, key: keyOptionsFromFlags({ ...flags, contact: undefined }, flags.keyName), withToken: flags.withToken },
          CLI_ACTOR,
        );
        if (flags.withToken) printCreatedWithToken(runtime, Boolean(flags.json), created, config);
        else output(runtime, Boolean(flags.json), {
          agent: agentJson(created.agent),
          key: apiKeyJson(created.key, config.rateLimit),
          api_key: created.apiKey,
        }, [
          `created agent ${created.agent.id} (${created.agent.name})`,
          `created key ${created.key.id}`,
          ...keyDetails(created.key, config),
          ...secretLines(created.apiKey),
        ]);
        const warning = namesakeWarning('agent', created.agent.name, existing);
        if (warning) notice(runtime, warning);
      });
    });

  program
    .command('agent:list')
    .description('list agents, newest first')
    .option('--json', 'print one JSON object')
    .action(async (flags: { json?: boolean }) => {
      await withKeys(runtime, {}, async (keys) => {
        const agents = await keys.agents.list({ limit: 1000 });
        output(runtime, Boolean(flags.json), { agents: agents.map(agentJson) }, agents.length ? agentTable(agents) : ['no agents']);
      });
    });

  program
    .command('agent:revoke')
    .description('revoke an agent and every key it holds, at once')
    .argument('[id]', 'the agent id (agent_…)')
    // The form before the id became an argument like every other command's: scripts keep working, with a warning.
    .addOption(new Option('--id <id>', 'deprecated: pass the id as the argument').hideHelp())
    .option('--json', 'print one JSON object')
    .action(async (argument: string | undefined, flags: { id?: string; json?: boolean }) => {
      if (argument !== undefined && flags.id !== undefined && argument !== flags.id) throw new CliError('give the agent id once (as the argument; --id is deprecated)');
      const id = argument ?? flags.id;
      if (id === undefined) throw new CliError("missing required argument 'id' (keyport agent:revoke agent_…)");
      await withKeys(runtime, { revokes: true }, async (keys) => {
        const revoked = await keys.agents.revoke(id, CLI_ACTOR);
        output(runtime, Boolean(flags.json), { agent: agentJson(revoked.agent), revoked_keys: [...revoked.revokedKeyIds], already_revoked: revoked.alreadyRevoked }, [
          revoked.alreadyRevoked
            ? `agent ${revoked.agent.id} was already revoked`
            : `revoked agent ${revoked.agent.id} and ${revoked.revokedKeyIds.length} key(s)${revoked.revokedKeyIds.length ? `: ${revoked.revokedKeyIds.join(', ')}` : ''}`,
        ]);
      });
      if (flags.id !== undefined) notice(runtime, `warning: agent:revoke --id is deprecated; pass the id as the argument: keyport agent:revoke ${id}`);
    });
}
