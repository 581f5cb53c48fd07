import type { Command } from 'commander';
import type { UserService } from '../../users/user_service.js';
import { CliError, output, type CliRuntime } from '../context.js';
import { withDependencies } from '../dependencies.js';

/** The user store alone (it has no cache elsewhere to invalidate: nothing to publish). */
function withUsers<T>(runtime: CliRuntime, action: (users: UserService) => Promise<T>): Promise<T> {
  return withDependencies(runtime, {}, async (deps) => {
    const { buildUserService } = await import('../../oidc/stores.js');
    return action(buildUserService(deps));
  });
}

type Input = NodeJS.ReadStream & { setRawMode?: (mode: boolean) => unknown };

/** Reads a line from the terminal without echoing it. */
function promptHidden(input: Input, out: NodeJS.WritableStream, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = input.isRaw;
    // Echo off before the question appears, so nothing typed right away is shown.
    input.setRawMode?.(true);
    out.write(question);
    input.resume();
    input.setEncoding('utf8');
    const done = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode?.(Boolean(wasRaw));
      input.pause();
      out.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          done();
          return;
        }
        if (char === '\u0003') {
          done(new CliError('cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    input.on('data', onData);
  });
}

async function askPassword(runtime: CliRuntime): Promise<string> {
  const input = ((runtime as { stdin?: Input }).stdin ?? process.stdin) as Input;
  if (!input.isTTY) {
    throw new CliError('no --password given and stdin is not a terminal to ask for one (pass --password, or run it in a terminal)');
  }
  const first = await promptHidden(input, runtime.stderr, 'Password: ');
  const second = await promptHidden(input, runtime.stderr, 'Repeat password: ');
  if (first !== second) throw new CliError('the passwords do not match');
  return first;
}

/** `keyport user:create | user:list`: people who sign in through the authorization-code flow. */
export function registerUsers(program: Command, runtime: CliRuntime): void {
  program
    .command('user:create')
    .description('create a login user (password hashed with bcrypt); asks for the password when --password is omitted')
    .requiredOption('--email <email>', 'login email')
    .option('--password <password>', 'the password (visible in shell history; omit it to be asked)')
    .option('--admin', 'may use the dashboard')
    .option('--json', 'print one JSON object')
    .action(async (options: { email: string; password?: string; admin?: boolean; json?: boolean }) => {
      const password = options.password ?? await askPassword(runtime);
      const user = await withUsers(runtime, (users) => users.create({ email: options.email, password, isAdmin: Boolean(options.admin) }));
      const data = { id: user.id, email: user.email, is_admin: user.isAdmin, created_at: user.createdAt.toISOString() };
      output(runtime, Boolean(options.json), { user: data }, [`created user ${user.id} (${user.email})${user.isAdmin ? ', admin' : ''}`]);
    });

  program
    .command('user:list')
    .description('list login users')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const users = await withUsers(runtime, async (store) => (await store.list())
        .map((user) => ({ id: user.id, email: user.email, is_admin: user.isAdmin, created_at: user.createdAt.toISOString() })));
      output(runtime, Boolean(options.json), { users }, users.length ? users.map((user) => `${user.id}  ${user.email}${user.is_admin ? '  admin' : ''}`) : ['no users']);
    });
}
