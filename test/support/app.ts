import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Env } from '../../src/config/parse.js';
import type { Clock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Services } from '../../src/service_container.js';
import { createScratchDatabase, type ScratchDatabase } from './database.js';
import { TEST_SECRET } from './secret.js';

export { TEST_SECRET } from './secret.js';

export interface TestApp {
  readonly url: string;
  readonly config: Config;
  readonly services: Services;
  readonly running: RunningServer;
  readonly database: ScratchDatabase;
  /** Every JSON log line the instance wrote, for assertions (e.g. redaction). */
  readonly logs: string[];
  /** A supertest client bound to the running server (real HTTP over loopback). */
  http(): supertest.Agent;
  /** Environment to hand to a CLI run against the same database. */
  readonly env: Env;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface TestAppOptions {
  /** Extra environment (e.g. `RATE_LIMIT_PER_MIN`). */
  env?: Env;
  /** Reuse an existing scratch database (e.g. a second instance on the same data). */
  database?: ScratchDatabase;
  /** The services' clock (default: the system clock), e.g. a ManualClock from ./time.js. */
  clock?: Clock;
  /**
   * ISSUER is the app's own address, `http://127.0.0.1:<port>`, on whichever free port it gets
   * (a new one when another process took the first): what the OAuth tests need, since clients
   * check the issuer against the URL they discovered it at.
   */
  issuerOnPort?: boolean;
}

/**
 * Boots the real app on a free port against a fresh database: SQLite by default, MySQL when
 * DATABASE_URL is set. Every test talks to it over HTTP.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createScratchDatabase());
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { logs.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  let env: Env;
  let config: Config;
  let running: RunningServer;
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    env = {
      NODE_ENV: 'test',
      PORT: String(port),
      ...(options.issuerOnPort ? { ISSUER: `http://127.0.0.1:${port}` } : {}),
      DATABASE_URL: database.url,
      DATA_DIR: database.dir,
      KEYPORT_SECRET: TEST_SECRET,
      BCRYPT_ROUNDS: '4',
      LOG_LEVEL: 'http',
      ...options.env,
    };
    config = loadConfig(env);
    try {
      running = await startServer(config, { logger: createLogger(config.logLevel, sink), processMetrics: false, clock: options.clock });
      break;
    } catch (err) {
      // The free port was released before the server listened on it, and with suites side by side
      // another process's outgoing connection can take it from the shared ephemeral range in
      // between (seen in CI). A new port then; a port the caller chose is not ours to change.
      if ((err as { code?: string }).code !== 'EADDRINUSE' || options.env?.PORT !== undefined || attempt === 5) {
        if (!options.database) await database.drop();
        throw err;
      }
    }
  }
  const ownsDatabase = !options.database;
  return {
    url: running.url,
    config,
    services: running.services,
    running,
    database,
    logs,
    env,
    http: () => supertest.agent(running.url),
    close: async () => {
      await running.close();
      if (ownsDatabase) await database.drop();
    },
  };
}
