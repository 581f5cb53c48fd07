import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help } from 'commander';
import { ConfigError } from '../config/errors.js';
import { KeyportError } from '../lib/errors.js';
import { CliError, CliSession, type CliRuntime } from './context.js';
import { registerAgents } from './commands/agents.js';
import { registerAgentTokens, registerLegacyAgentIdWarning } from './commands/agent_tokens.js';
import { registerKeys } from './commands/keys.js';
import { registerClients } from './commands/clients.js';
import { registerMcpClients } from './commands/mcp_clients.js';
import { registerMigrate } from './commands/migrate.js';
import { registerResourceServers } from './commands/resource_servers.js';
import { registerSigningKeys } from './commands/signing_keys.js';
import { registerUsers } from './commands/users.js';

/** Each command module adds its commands here. */
const REGISTRARS: Array<(program: Command, runtime: CliRuntime) => void> = [
  registerMigrate,
  registerAgents,
  registerAgentTokens,
  registerLegacyAgentIdWarning,
  registerKeys,
  registerClients,
  registerUsers,
  registerSigningKeys,
  registerResourceServers,
  registerMcpClients,
];

/** The package's version (package.json sits three levels above dist/src/cli/, in a checkout and in an installed package). */
function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const baseOptionDescription = Help.prototype.optionDescription;

export function buildProgram(runtime: CliRuntime): Command {
  const program = new Command('keyport')
    .description('Keyport: OAuth 2.0 / OIDC authorization server with first-class API keys')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    // Subcommands inherit this: a required option says so in its --help line.
    .configureHelp({
      optionDescription(option) {
        const text = baseOptionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => runtime.stdout.write(text),
      writeErr: (text) => runtime.stderr.write(text),
    });
  for (const register of REGISTRARS) register(program, runtime);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the CLI; resolves to the process exit code. Errors become one line on stderr. */
export async function runCli(argv: string[], given: CliRuntime): Promise<number> {
  const session = new CliSession();
  const runtime: CliRuntime = { ...given, session };
  const program = buildProgram(runtime);
  try {
    await program.parseAsync(argv, { from: 'user' });
    // After the answer, on stderr: stdout stays the answer alone (one JSON object with --json).
    for (const line of session.notices) runtime.stderr.write(`keyport: ${line}\n`);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof KeyportError && err.code === 'not_found' && session.database) {
      // Something that is not there is most often looked for in the wrong database: name it, on the same one line.
      runtime.stderr.write(`keyport: ${err.message} (database: ${session.database})\n`);
      return 1;
    }
    if (err instanceof CliError) {
      runtime.stderr.write(`keyport: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      runtime.stderr.write(`keyport: invalid configuration: ${err.message}\n`);
      return 2;
    }
    if (err instanceof KeyportError && err.status < 500) {
      runtime.stderr.write(`keyport: ${err.message}\n`);
      return 1;
    }
    runtime.stderr.write(`keyport: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
