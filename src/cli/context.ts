/** Raised by a command for a user mistake: printed as one line, exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * What one run collects for the lines printed after the command succeeded (src/cli/program.ts):
 * notices (which database was written to, warnings, deprecations). They wait because a failed
 * command prints exactly one line, its error (docs/cli.md).
 */
export class CliSession {
  readonly notices: string[] = [];
  /** The database the command opened, as shown to people (no password). */
  database?: string;
}

export interface CliRuntime {
  /**
   * Environment the CLI was started with; `withDependencies` (src/cli/dependencies.ts) reads the
   * configuration from it, the users commands read KEYPORT_USER_PASSWORD.
   */
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where `--password-stdin` reads from and the password prompt listens (default process.stdin). */
  readonly stdin?: NodeJS.ReadStream;
  /** The working directory (default process.cwd()): where `.env` is looked for. */
  readonly cwd?: string;
  /** Set by `runCli`; without it (a command run on its own) notices go to stderr at once. */
  readonly session?: CliSession;
}

/** Prints a result: the JSON object with `--json`, otherwise the human lines. */
export function output(runtime: CliRuntime, json: boolean, data: unknown, human: string[]): void {
  runtime.stdout.write(json ? `${JSON.stringify(data)}\n` : `${human.join('\n')}\n`);
}

/** A line for stderr once the command has succeeded (`keyport: …`). */
export function notice(runtime: CliRuntime, line: string): void {
  if (runtime.session) runtime.session.notices.push(line);
  else runtime.stderr.write(`keyport: ${line}\n`);
}
