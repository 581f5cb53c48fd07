import type { Services } from '../services.js';

/** Raised by a command for a user mistake: printed as one line, exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

export interface CliRuntime {
  /** Environment the CLI was started with; only `openServices` reads it. */
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * Opens config, database (running pending migrations) and services for one command, and
 * closes them afterwards. Logs go to stderr so `--json` stdout stays one JSON object.
 */
export async function withServices<T>(runtime: CliRuntime, action: (services: Services) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  // Loaded here, not at the top: `--help` and argument mistakes need none of the server graph,
  // and importing it costs most of a command's start-up.
  const [{ loadConfig }, { Database }, { createLogger }, { buildServices, closeServices }] = await Promise.all([
    import('../config/config.js'),
    import('../db/database.js'),
    import('../lib/logger.js'),
    import('../services.js'),
  ]);
  const config = loadConfig(runtime.env);
  const logger = createLogger(runtime.env.LOG_LEVEL ? config.logLevel : 'warn', runtime.stderr);
  const database = await Database.open(config.database, logger, { migrate: options.migrate ?? true, limits: config.databaseLimits, secret: config.secret });
  const services = await buildServices(config, logger, database, { processMetrics: false });
  try {
    return await action(services);
  } finally {
    await closeServices(services);
    await database.close();
  }
}

/** Prints a result: the JSON object with `--json`, otherwise the human lines. */
export function output(runtime: CliRuntime, json: boolean, data: unknown, human: string[]): void {
  runtime.stdout.write(json ? `${JSON.stringify(data)}\n` : `${human.join('\n')}\n`);
}
