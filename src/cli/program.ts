import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/errors.js';
import { KeyportError } from '../lib/errors.js';
import { CliError, type CliRuntime } from './context.js';
import { registerAgents } from './commands/agents.js';
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
  registerKeys,
  registerClients,
  registerUsers,
  registerSigningKeys,
  registerResourceServers,
  registerMcpClients,
];

export function buildProgram(runtime: CliRuntime): Command {
  const program = new Command('keyport')
    .description('Keyport: OAuth 2.0 / OIDC authorization server with first-class API keys')
    .showHelpAfterError('(run with --help for usage)')
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
export async function runCli(argv: string[], runtime: CliRuntime): Promise<number> {
  const program = buildProgram(runtime);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
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
