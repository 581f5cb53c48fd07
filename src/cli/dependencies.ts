import { isAbsolute, relative, sep } from 'node:path';
import type { AuditLog } from '../audit/audit_log.js';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { KeyServices } from '../keys/index.js';
import type { EventBus } from '../lib/bus.js';
import type { Logger } from '../lib/logger.js';
import { notice, type CliRuntime } from './context.js';

/*
 * What a CLI command builds. The server builds the whole graph (src/service_container.ts: Redis, the OIDC
 * engine, rate limits, the dashboard, the exchange); a command builds only the foundation below
 * and the domain services it reads or changes, so a `keyport agent:list` loads neither
 * oidc-provider nor ioredis. Every module is loaded on demand, inside the command's action:
 * `--help` and argument mistakes load none of them. Nothing here imports src/service_container.ts
 * (test/cli/narrow_imports.test.ts checks what a listing command loads).
 */

/** The foundation of every command. */
export interface CliDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  /** Audit rows of the changes a command makes. */
  readonly audit: AuditLog;
  /**
   * With `publishes` and REDIS_URL: Redis pub/sub, built as the server builds it, so running
   * instances hear of the change at once. Otherwise in-process: they learn of it from the
   * database (their change sweeps; see docs/architecture.md).
   */
  readonly bus: EventBus;
}

export interface CliNeeds {
  /** Run pending migrations when opening the database (default true; `migrate` runs them itself). */
  readonly migrate?: boolean;
  /**
   * The command changes something running instances cache (revocations, deletions, rotations):
   * connect to Redis when REDIS_URL is set and publish on its bus, as the server does.
   */
  readonly publishes?: boolean;
  /**
   * The command writes: once it succeeded, say which database it wrote to
   * (`keyport: using sqlite:./data/keyport.db`), the answer to "why does the server not see it".
   */
  readonly writes?: boolean;
}

/**
 * The environment a command's configuration is read from: the process environment over the
 * `.env` file found for the working directory (src/config/env_file.ts), resolved once per run.
 */
export async function commandEnvironment(runtime: CliRuntime): Promise<import('../config/env_file.js').ResolvedEnvironment> {
  const { withEnvFile } = await import('../config/env_file.js');
  return withEnvFile(runtime.env, runtime.cwd ?? process.cwd());
}

/** A path as shown to people: relative to the working directory when that is short (`./data/…`, `../../data/…`), else absolute. */
function shownPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  // Climbing up to the file-system root (/work/x → ../../tmp/…) says less than the absolute path.
  const ups = rel.split(sep).filter((part) => part === '..').length;
  if (rel === '' || isAbsolute(rel) || ups > 2 || ups >= cwd.split(sep).filter(Boolean).length) return path;
  return rel.startsWith('..') ? rel : `./${rel}`;
}

/** The least a command waits for a connection (MySQL: its handshake) or a write lock (SQLite). */
export const COMMAND_ACQUIRE_TIMEOUT_MS = 10_000;

/**
 * The database limits of a CLI command: the server's, but waiting at least
 * COMMAND_ACQUIRE_TIMEOUT_MS (mysql2's own default) for a connection or for SQLite's write lock.
 * DB_ACQUIRE_TIMEOUT_MS is a request's bound, small so that a server under load sheds work; a
 * command is one operator's action, and at 1 s its first MySQL handshake failed with "connect
 * ETIMEDOUT" on a loaded (or distant) server. A server that takes the connection and then does
 * not answer still fails the command within DB_QUERY_TIMEOUT_MS.
 */
export function commandDatabaseLimits(limits: Config['databaseLimits']): Config['databaseLimits'] {
  return { ...limits, acquireTimeoutMs: Math.max(limits.acquireTimeoutMs, COMMAND_ACQUIRE_TIMEOUT_MS) };
}

/** The database as shown to people: a short path for SQLite; a URL without its password or query for MySQL. */
export function describeDatabase(target: Config['database'], cwd: string): string {
  if (target.type === 'sqlite') return `sqlite:${target.path === ':memory:' ? target.path : shownPath(target.path, cwd)}`;
  const url = new URL(target.url);
  if (url.password) url.password = '***';
  url.search = '';
  return url.toString();
}

/**
 * Opens config, database (running pending migrations) and, when asked, the Redis bus for one
 * command, and closes them afterwards (`onClose` hooks first, newest first). Logs go to stderr so
 * `--json` stdout stays one JSON object.
 */
export async function withDependencies<T>(
  runtime: CliRuntime,
  needs: CliNeeds,
  action: (deps: CliDependencies, onClose: (close: () => Promise<void> | void) => void) => Promise<T>,
): Promise<T> {
  const [{ loadConfig }, { Database }, { createLogger }, { AuditLog }, { InProcessBus }] = await Promise.all([
    import('../config/config.js'),
    import('../db/database.js'),
    import('../lib/logger.js'),
    import('../audit/audit_log.js'),
    import('../lib/bus.js'),
  ]);
  const environment = await commandEnvironment(runtime);
  const config = loadConfig(environment.env, environment.cwd);
  const logger = createLogger(environment.env.LOG_LEVEL ? config.logLevel : 'warn', runtime.stderr);
  const cwd = runtime.cwd ?? process.cwd();
  const shownDatabase = describeDatabase(config.database, cwd);
  if (runtime.session) runtime.session.database = shownDatabase;
  const database = await Database.open(config.database, logger, { migrate: needs.migrate ?? true, limits: commandDatabaseLimits(config.databaseLimits), secret: config.secret });
  const closers: Array<() => Promise<void> | void> = [];
  try {
    let bus: EventBus;
    if (needs.publishes && config.redis) {
      const { connectSharedRedis } = await import('../lib/redis.js');
      const shared = await connectSharedRedis(config.redis, config.redisPrefix, logger);
      closers.push(() => shared.close());
      bus = shared.bus;
    } else {
      const inProcess = new InProcessBus();
      closers.push(() => inProcess.close());
      bus = inProcess;
    }
    const audit = new AuditLog(database.dataSource, logger);
    const result = await action({ config, logger, database, audit, bus }, (close) => { closers.push(close); });
    if (needs.writes) notice(runtime, `using ${shownDatabase}${environment.file ? ` (settings from ${shownPath(environment.file.path, cwd)})` : ''}`);
    return result;
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn('error while shutting down', { err });
      }
    }
    await database.close();
  }
}

/**
 * Agents and API keys (src/keys). A command that revokes keys (`key:revoke`, `agent:revoke`,
 * `key:rotate --grace 0`) also ends the sessions and tokens issued from them on every instance,
 * as the server's exchange does for revocations made through it.
 */
export async function withKeys<T>(
  runtime: CliRuntime,
  needs: { readonly revokes?: boolean; readonly writes?: boolean },
  action: (keys: KeyServices, deps: CliDependencies) => Promise<T>,
): Promise<T> {
  return withDependencies(runtime, { publishes: needs.revokes, writes: needs.writes || needs.revokes }, async (deps, onClose) => {
    const { buildKeyServices } = await import('../keys/index.js');
    const keys = buildKeyServices(deps);
    onClose(() => keys.close());
    if (needs.revokes) {
      const [{ buildRevocationRegistry }, { revokeTokensOfRevokedKeys }] = await Promise.all([
        import('../oidc/stores.js'),
        import('../exchange/revoked_keys.js'),
      ]);
      const revocations = buildRevocationRegistry(deps);
      onClose(keys.onRevoked((event) => revokeTokensOfRevokedKeys({ revocations, config: deps.config, logger: deps.logger }, event)));
    }
    return action(keys, deps);
  });
}
