import Router from '@koa/router';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import supertest from 'supertest';
import { buildApp } from '../../src/app.js';
import type { KeyportContext } from '../../src/http/context.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import type { Services } from '../../src/service_container.js';
import { freePort } from '../support/app.js';

export type TestRouter = Router<KeyportContext['state'], KeyportContext>;

export interface MountedApp {
  readonly url: string;
  http(): supertest.Agent;
  close(): Promise<void>;
}

/**
 * The real app (same services, same edge middleware) with extra routes mounted after
 * Keyport's own: how these tests exercise the rate-limit steps before the features that use
 * them exist. Mounted on a second listener so the running instance is left as it is.
 */
export async function serveWithRoutes(services: Services, addRoutes: (router: TestRouter) => void): Promise<MountedApp> {
  const app = buildApp(services);
  const router: TestRouter = new Router();
  addRoutes(router);
  app.use(router.routes());
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    http: () => supertest.agent(url),
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** A logger whose JSON lines land in an array, for assertions on what was logged. */
export function memoryLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  return { logger: createLogger(level, sink), lines };
}

export function randomPrefix(): string {
  return `kp-test-${randomBytes(6).toString('hex')}:`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A redis-server of our own on a fixed port, so a test can kill it and start it again. */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => { if (this.child === child) this.child = undefined; });
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** SIGKILL: the connection drops the way it does when a Redis host dies. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  /** A plain client for looking at what Keyport stored. */
  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    return client;
  }
}

/**
 * The Redis the suite shares (REDIS_URL_TEST, as in CI), or a private redis-server when it is
 * not set; `undefined` when neither is available.
 */
export async function sharedRedis(): Promise<{ url: string; stop(): Promise<void> } | undefined> {
  const url = process.env.REDIS_URL_TEST;
  if (url) return { url, stop: async () => {} };
  if (!hasRedisServer()) return undefined;
  const server = await RedisServer.start();
  return { url: server.url, stop: () => server.kill() };
}
