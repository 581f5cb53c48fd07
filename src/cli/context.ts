/** Raised by a command for a user mistake: printed as one line, exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

export interface CliRuntime {
  /** Environment the CLI was started with; only `withDependencies` (src/cli/dependencies.ts) reads it. */
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Prints a result: the JSON object with `--json`, otherwise the human lines. */
export function output(runtime: CliRuntime, json: boolean, data: unknown, human: string[]): void {
  runtime.stdout.write(json ? `${JSON.stringify(data)}\n` : `${human.join('\n')}\n`);
}
