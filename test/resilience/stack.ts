import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { spawnServer, type ServerProcess } from '../../bench/lib/processes.js';
import { KEYPORT_MAIN } from '../../bench/lib/paths.js';
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { Database } from '../../src/db/database.js';
import { createLogger } from '../../src/lib/logger.js';
import { SERVER_NODE_OPTIONS } from '../../src/server_node_options.js';
import { freePort } from '../support/app.js';
import { runKeyport } from '../support/cli.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/database.js';
import { behindProxy, FaultProxy } from '../support/fault_proxy.js';
import { hasRedisServer, RedisServer } from '../ratelimit/support.js';

export type DbKind = 'sqlite' | 'mysql';

/** One row of `api_key_sessions` as the checks need it. */
export interface SessionRow {
  readonly sessionId: string;
  readonly tokenJti: string | null;
  readonly claimedBy: string | null;
}

export interface StackOptions {
  readonly db: DbKind;
  /** For MySQL: the server (`mysql://root@127.0.0.1:3306/…`); a scratch schema is made on it. */
  readonly mysqlUrl?: string;
  /** A Redis the proxy forwards to; a private redis-server is started when absent. */
  readonly redisUrl?: string;
  /** Extra environment for Keyport. */
  readonly env?: Readonly<Record<string, string>>;
  /** Size of the tmpfs the SQLite data lives on (disk-full scenario), when the machine allows mounting one. */
  readonly tmpfsMb?: number;
}

/** Mounts a small tmpfs when allowed (root, mount available); undefined otherwise. */
function mountTmpfs(sizeMb: number): { dir: string; unmount(): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'keyport-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount: () => {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A real Keyport process (`node dist/src/main.js`, as `npm start`) talking to MariaDB and Redis
 * through fault-injecting proxies, with an API key and a client-credentials client made through
 * the CLI. Keyport's logs go to a file; the database is looked at directly (not through the proxy).
 */
export class FaultStack {
  private constructor(
    readonly db: DbKind,
    readonly keyport: ServerProcess,
    readonly env: Record<string, string>,
    /** Between Keyport and MariaDB (MySQL only). */
    readonly dbProxy: FaultProxy | undefined,
    /** Between Keyport and Redis. */
    readonly redisProxy: FaultProxy,
    readonly apiKey: string,
    readonly client: { readonly id: string; readonly secret: string },
    /** The SQLite file, or the scratch schema's URL. */
    readonly databaseUrl: string,
    /** The data folder (on the tmpfs when one was mounted). */
    readonly dataDir: string,
    readonly onTmpfs: boolean,
    private readonly cleanups: Array<() => Promise<void> | void>,
  ) {}

  get url(): string {
    return this.keyport.url;
  }

  /** REQUEST_TIMEOUT_MS as Keyport got it. */
  get budgetMs(): number {
    return Number(this.env.REQUEST_TIMEOUT_MS ?? 5000);
  }

  static async start(options: StackOptions): Promise<FaultStack> {
    const cleanups: Array<() => Promise<void> | void> = [];
    const cleanup = async (): Promise<void> => {
      for (const step of cleanups.reverse()) await step();
    };
    try {
      const work = mkdtempSync(join(tmpdir(), 'keyport-chaos-'));
      cleanups.push(() => rmSync(work, { recursive: true, force: true }));
      const tmpfs = options.db === 'sqlite' && options.tmpfsMb ? mountTmpfs(options.tmpfsMb) : undefined;
      if (tmpfs) cleanups.push(() => tmpfs.unmount());
      const dataDir = tmpfs?.dir ?? join(work, 'data');
      mkdirSync(dataDir, { recursive: true });

      let redisTarget = options.redisUrl;
      if (!redisTarget) {
        if (!hasRedisServer()) throw new Error('no Redis: set REDIS_URL_TEST or install redis-server');
        const redis = await RedisServer.start();
        cleanups.push(() => redis.kill());
        redisTarget = redis.url;
      }
      const redisAt = new URL(redisTarget);
      const redisProxy = await FaultProxy.start({ host: redisAt.hostname, port: Number(redisAt.port || 6379) });
      cleanups.push(() => redisProxy.close());

      let databaseUrl: string;
      let keyportDatabaseUrl: string;
      let dbProxy: FaultProxy | undefined;
      if (options.db === 'mysql') {
        if (!options.mysqlUrl) throw new Error('the MySQL stack needs a server URL');
        const scratch: ScratchDatabase = await createScratchDatabase({ mysqlUrl: options.mysqlUrl });
        cleanups.push(() => scratch.drop());
        databaseUrl = scratch.url;
        const { proxy, proxied } = await behindProxy(scratch.url);
        dbProxy = proxy;
        cleanups.push(() => proxy.close());
        keyportDatabaseUrl = proxied.toString();
      } else {
        databaseUrl = `sqlite:${join(dataDir, 'keyport.db')}`;
        keyportDatabaseUrl = databaseUrl;
      }

      const port = await freePort();
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER: `http://127.0.0.1:${port}`,
        DATABASE_URL: keyportDatabaseUrl,
        DATA_DIR: dataDir,
        KEYPORT_SECRET: randomBytes(36).toString('base64url'),
        REQUIRE_HTTPS: 'false',
        REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
        REDIS_PREFIX: `kp-chaos-${randomBytes(5).toString('hex')}:`,
        // Limits are counted (through Redis) but never reached by the load.
        RATE_LIMIT_PER_MIN: '10000000',
        RATE_LIMIT_PER_HOUR: '100000000',
        RATE_LIMIT_BURST: '10000000',
        RATE_LIMIT_CLIENT_PER_MIN: '10000000',
        RATE_LIMIT_LOGIN_PER_IP: '10000000',
        RATE_LIMIT_KEY_FAILURES_PER_IP: '10000000',
        BCRYPT_ROUNDS: '4',
        LOG_LEVEL: 'info',
        ...options.env,
      };
      const logFile = join(work, 'keyport.log');
      const keyport = await spawnServer({
        name: 'keyport', script: KEYPORT_MAIN, nodeArgs: SERVER_NODE_OPTIONS, env, url: `http://127.0.0.1:${port}`, readyPath: '/readyz', logFile, timeoutMs: 60_000,
      });
      cleanups.push(async () => { await keyport.stop(5_000); });

      // Fixtures through the CLI, straight to the database (not through the proxy).
      const cliEnv = { ...env, DATABASE_URL: databaseUrl, REDIS_URL: redisTarget, LOG_LEVEL: 'warn' };
      const agent = await runKeyport(['agent:create', '--name', 'chaos', '--scopes', 'read,write', '--json'], cliEnv);
      if (agent.code !== 0) throw new Error(`agent:create failed: ${agent.stderr}`);
      const client = await runKeyport(['client:create', '--name', 'chaos-cc', '--grant', 'client_credentials', '--scopes', 'read', '--json'], cliEnv);
      if (client.code !== 0) throw new Error(`client:create failed: ${client.stderr}`);
      const created = JSON.parse(client.stdout) as { client_id: string; client_secret: string };

      return new FaultStack(options.db, keyport, env, dbProxy, redisProxy, (JSON.parse(agent.stdout) as { api_key: string }).api_key,
        { id: created.client_id, secret: created.client_secret }, databaseUrl, dataDir, Boolean(tmpfs), cleanups);
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** Keyport's JSON log lines so far. */
  logs(): Array<Record<string, unknown>> {
    const lines: Array<Record<string, unknown>> = [];
    for (const line of readFileSync(this.keyport.logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line cut short by a kill
      }
    }
    return lines;
  }

  /** The API-key sessions in the database, read directly (a connection of its own, not through the proxy). */
  async sessionRows(): Promise<SessionRow[]> {
    const quiet = createLogger('error', new Writable({ write(_chunk, _enc, done) { done(); } }));
    const database = await Database.open(parseDatabaseUrl(this.databaseUrl, process.cwd()), quiet, { migrate: false });
    try {
      return (await database.dataSource.query('SELECT sessionId, tokenJti, claimedBy FROM api_key_sessions')) as SessionRow[];
    } finally {
      await database.close();
    }
  }

  /** Stops Keyport (SIGTERM, SIGKILL after 5 s), the proxies and whatever the stack started. */
  async close(): Promise<void> {
    for (const step of this.cleanups.reverse()) {
      try {
        await step();
      } catch {
        // best effort: the rest still has to go
      }
    }
    this.cleanups.length = 0;
  }
}
