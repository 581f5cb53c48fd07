import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CreatedAgent } from '../../src/keys/agents.js';
import { freePort, type TestApp, type TestAppOptions } from '../support/app.js';
import { createAgentWithKey } from '../keys/helpers.js';
import { postForm, registerClient, startOidcApp, type RegisteredClient } from '../oidc/support.js';

export { signWithServerKey, claimsOf } from '../admin/support.js';
export { sleep } from '../keys/helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const EXAMPLES = join(root, 'dist', 'examples');
export const FRAMEWORKS = ['koa', 'express', 'fastify'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** A Keyport as a downstream API meets it: real server, real database, issuer = its own address. */
export interface KeyportFixture {
  readonly app: TestApp;
  /** The API's own Keyport client (client credentials: introspection). */
  readonly apiClient: RegisteredClient;
  /** A client that asks for tokens for an audience (client credentials with `resource`). */
  readonly service: RegisteredClient;
}

export async function startKeyport(options: TestAppOptions = {}): Promise<KeyportFixture> {
  const app = await startOidcApp(options);
  const apiClient = await registerClient(app, { name: 'orders-api', grantTypes: ['client_credentials'], scopes: ['read'] });
  const service = await registerClient(app, { name: 'billing-service', grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
  return { app, apiClient, service };
}

/** An agent with one key, as `npx keyport agent:create` makes it. */
export function agentWithKey(app: TestApp, scopes: string[] = ['read', 'write']): Promise<CreatedAgent> {
  return createAgentWithKey(app, { scopes });
}

/** `POST /auth/login` → the JSON answer (asserting 200). */
export async function login(app: TestApp, apiKey: string, sessionId: string): Promise<{ access_token: string; refresh_token: string; expires_in: number }> {
  const res = await app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).send({ session_id: sessionId });
  expect(res.status, res.text).to.equal(200);
  return res.body;
}

/** A client-credentials token, optionally for another audience (RFC 8707 `resource`). */
export async function serviceToken(fx: KeyportFixture, scope: string, resource?: string): Promise<string> {
  const res = await postForm(fx.app, '/oauth/token', { grant_type: 'client_credentials', scope, ...(resource ? { resource } : {}) }, fx.service);
  expect(res.status, res.text).to.equal(200);
  return res.body.access_token as string;
}

/** How many requests for this path Keyport's access log has seen (the app logs at level `http`). */
export function keyportRequests(app: TestApp, path: string): number {
  return app.logs.filter((line) => line.includes('"message":"request"') && line.includes(`"path":"${path}"`)).length;
}

export interface RunningProcess {
  readonly url: string;
  readonly output: string[];
  stop(): Promise<void>;
}

/**
 * Starts `node dist/examples/<name>/server.js` the way its header says, and waits for "listening on".
 * The port is picked free and then handed to the child, so another process (CI runs several suites
 * at once) can take it in between: then the example exits with EADDRINUSE and is started again on
 * another port, up to three times.
 */
export async function startExample(framework: Framework, fx: KeyportFixture, env: Record<string, string> = {}): Promise<RunningProcess> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startExampleOn(await freePort(), framework, fx, env);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof ExampleExited) || !err.output.includes('EADDRINUSE')) throw err;
    }
  }
}

/** The example process ended before it said it was listening. */
export class ExampleExited extends Error {
  constructor(framework: string, readonly code: number | null, readonly output: string) {
    super(`the ${framework} example exited with ${code}: ${output}`);
  }
}

/** One start of an example on `port`: resolves once it says it is listening, rejects with ExampleExited if it ends first. */
export async function startExampleOn(port: number, framework: Framework, fx: KeyportFixture, env: Record<string, string> = {}): Promise<RunningProcess> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(EXAMPLES, framework, 'server.js')], {
    env: {
      PATH: process.env.PATH,
      KEYPORT_ISSUER: fx.app.config.issuer,
      API_URL: url,
      KEYPORT_CLIENT_ID: fx.apiClient.id,
      KEYPORT_CLIENT_SECRET: fx.apiClient.secret!,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${framework} example did not start: ${output.join('')}`)), 15_000);
    const collect = (chunk: Buffer): void => {
      output.push(String(chunk));
      if (output.join('').includes('listening on')) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', (chunk: Buffer) => output.push(String(chunk)));
    child.once('exit', (code) => { clearTimeout(timer); reject(new ExampleExited(framework, code, output.join(''))); });
  });
  child.removeAllListeners('exit');
  return { url, output, stop: () => stopProcess(child) };
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Runs `node dist/examples/agent/agent.js` to completion. */
export function runAgent(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(EXAMPLES, 'agent', 'agent.js')], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += String(chunk); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += String(chunk); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The RFC 6750 challenge parameters, parsed (`Bearer a="b", c="d"` → { a: 'b', c: 'd' }). */
export function challengeParams(header: string | undefined): Record<string, string> {
  expect(header, 'a WWW-Authenticate header').to.be.a('string');
  expect(header!.startsWith('Bearer '), header).to.equal(true);
  const params: Record<string, string> = {};
  for (const match of header!.slice(7).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) params[match[1]!] = match[2]!.replace(/\\(.)/g, '$1');
  return params;
}

/**
 * A TCP proxy in front of Keyport that can be switched to swallow connections (accept, never
 * answer): how the circuit-breaker tests make introspection time out. Counts the connections
 * that carried a request (HTTP clients also open spare connections that never do).
 */
export class FaultProxy {
  private mode: 'forward' | 'stall' = 'forward';
  /** Forwarding starts this long after a connection opens (`holdFor`). */
  private holdMs = 0;
  requests = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(target: string): Promise<FaultProxy> {
    const { hostname, port } = new URL(target);
    let proxy: FaultProxy | undefined;
    const server = createServer((socket) => {
      socket.once('data', () => { proxy!.requests += 1; });
      proxy!.sockets.add(socket);
      socket.once('close', () => proxy!.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      if (proxy!.mode === 'stall') return;
      if (proxy!.holdMs > 0) {
        // Held: what the client sends waits in the socket until forwarding starts.
        socket.pause();
        const timer = setTimeout(() => { if (!socket.destroyed) forward(socket); }, proxy!.holdMs);
        socket.once('close', () => clearTimeout(timer));
        return;
      }
      forward(socket);
    });
    const forward = (socket: Socket): void => {
      const upstream = connect(Number(port), hostname);
      proxy!.sockets.add(upstream);
      upstream.once('close', () => { proxy!.sockets.delete(upstream); socket.destroy(); });
      upstream.on('error', () => socket.destroy());
      socket.once('close', () => upstream.destroy());
      socket.pipe(upstream).pipe(socket);
      socket.resume();
    };
    // Port 0: the kernel picks one this server holds at once (a port picked free first could be taken in between).
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    proxy = new FaultProxy(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    return proxy;
  }

  /** From now on forward each new connection only `ms` after it opens (a slow network or server). */
  holdFor(ms: number): void {
    this.holdMs = ms;
  }

  /** From now on swallow every connection; open ones are cut, so pooled keep-alive connections reconnect into the stall. */
  stall(): void {
    this.mode = 'stall';
    for (const socket of this.sockets) socket.destroy();
  }

  /** Forward again; stalled connections are cut so their clients give up and reconnect. */
  forward(): void {
    this.mode = 'forward';
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
