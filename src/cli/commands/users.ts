import type { Command } from 'commander';
import type { User } from '../../db/entities/user.js';
import type { UserService } from '../../users/user_service.js';
import { CliError, output, type CliRuntime } from '../context.js';
import { withDependencies, type CliDependencies } from '../dependencies.js';
import { table } from '../table.js';

/** The user store alone (it has no cache elsewhere to invalidate: nothing to publish). */
function withUsers<T>(runtime: CliRuntime, needs: { writes?: boolean }, action: (users: UserService, deps: CliDependencies) => Promise<T>): Promise<T> {
  return withDependencies(runtime, needs, async (deps) => {
    const { buildUserService } = await import('../../oidc/stores.js');
    return action(buildUserService(deps), deps);
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

/** Names the variable `user:create` and `user:password` take the password from when no option gives it. */
export const PASSWORD_VARIABLE = 'KEYPORT_USER_PASSWORD';

interface PasswordFlags {
  password?: string;
  passwordStdin?: boolean;
}

/** All of stdin, less one line ending: `printf '%s' "$PW" | …` and `echo "$PW" | …` give the same password. */
async function readStdin(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * The password, from (first that applies) --password, --password-stdin, KEYPORT_USER_PASSWORD,
 * or asked twice on the terminal. Setup scripts use the middle two: neither lands in shell history
 * or in the process list.
 */
async function passwordFrom(runtime: CliRuntime, flags: PasswordFlags): Promise<string> {
  if (flags.password !== undefined && flags.passwordStdin) throw new CliError('give the password one way: --password or --password-stdin');
  if (flags.password !== undefined) return flags.password;
  const input = (runtime.stdin ?? process.stdin) as Input;
  if (flags.passwordStdin) {
    if (input.isTTY) throw new CliError('--password-stdin reads a pipe or a file, and stdin is a terminal (omit it to be asked)');
    return readStdin(input);
  }
  const fromEnv = runtime.env[PASSWORD_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!input.isTTY) {
    throw new CliError(`no --password given and stdin is not a terminal to ask for one (pass --password-stdin, set ${PASSWORD_VARIABLE}, or run it in a terminal)`);
  }
  const first = await promptHidden(input, runtime.stderr, 'Password: ');
  const second = await promptHidden(input, runtime.stderr, 'Repeat password: ');
  if (first !== second) throw new CliError('the passwords do not match');
  return first;
}

function userJson(user: User): { id: string; email: string; is_admin: boolean; created_at: string } {
  return { id: user.id, email: user.email, is_admin: user.isAdmin, created_at: user.createdAt.toISOString() };
}

function addPasswordOptions(command: Command): Command {
  return command
    .option('--password <password>', 'the password (visible in shell history and the process list; prefer the next two)')
    .option('--password-stdin', 'read the password from stdin (a pipe or a file), for setup scripts')
    .addHelpText('after', `\nWithout --password or --password-stdin the password comes from ${PASSWORD_VARIABLE} when set, else it is asked for twice on the terminal.`);
}

/** `keyport user:create | user:list | user:password | user:delete`: people who sign in through the authorization-code flow. */
export function registerUsers(program: Command, runtime: CliRuntime): void {
  addPasswordOptions(program
    .command('user:create')
    .description('create a login user (password hashed with bcrypt)')
    .requiredOption('--email <email>', 'login email'))
    .option('--admin', 'may use the dashboard')
    .option('--json', 'print one JSON object')
    .action(async (options: PasswordFlags & { email: string; admin?: boolean; json?: boolean }) => {
      const password = await passwordFrom(runtime, options);
      const user = await withUsers(runtime, { writes: true }, (users) => users.create({ email: options.email, password, isAdmin: Boolean(options.admin) }));
      output(runtime, Boolean(options.json), { user: userJson(user) }, [`created user ${user.id} (${user.email})${user.isAdmin ? ', admin' : ''}`]);
    });

  program
    .command('user:list')
    .description('list login users')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const users = await withUsers(runtime, {}, async (store) => (await store.list()).map(userJson));
      output(runtime, Boolean(options.json), { users }, users.length
        ? table(['ID', 'EMAIL', 'ADMIN', 'CREATED'], users.map((user) => [user.id, user.email, user.is_admin ? 'yes' : 'no', user.created_at]))
        : ['no users']);
    });

  addPasswordOptions(program
    .command('user:password')
    .description("set a user's password; the old one stops working and their dashboard sessions end")
    .argument('<user>', 'the user id (usr_…) or email'))
    .option('--json', 'print one JSON object')
    .action(async (who: string, options: PasswordFlags & { json?: boolean }) => {
      const password = await passwordFrom(runtime, options);
      const user = await withUsers(runtime, { writes: true }, async (users, deps) => {
        const changed = await users.setPassword(who, password);
        await endDashboardSessions(deps, changed.id);
        return changed;
      });
      output(runtime, Boolean(options.json), { user: userJson(user) }, [`changed the password of ${user.id} (${user.email})`]);
    });

  program
    .command('user:delete')
    .description('delete a login user: sign-in, refresh tokens and dashboard sessions stop at once')
    .argument('<user>', 'the user id (usr_…) or email')
    .option('--json', 'print one JSON object')
    .action(async (who: string, options: { json?: boolean }) => {
      const user = await withUsers(runtime, { writes: true }, async (users, deps) => {
        const deleted = await users.delete(who);
        await endDashboardSessions(deps, deleted.id);
        return deleted;
      });
      output(runtime, Boolean(options.json), { deleted: user.id, email: user.email }, [`deleted user ${user.id} (${user.email})`]);
    });
}

/** Signed-in dashboard sessions of the user end with a password change or deletion (the cookie is worthless after). */
async function endDashboardSessions(deps: CliDependencies, userId: string): Promise<void> {
  const [{ DashboardSessionStore }, { deriveKey }] = await Promise.all([import('../../dashboard/sessions.js'), import('../../lib/crypto.js')]);
  await new DashboardSessionStore(deps.database.dataSource, deriveKey(deps.config.secret, 'dashboard-session')).closeAllOf(userId);
}
