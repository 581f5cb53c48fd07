import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port nobody listens on right now (small race, acceptable for a bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A server process the bench started: its pid is what the RSS sampler reads. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<string>;
  /** Undefined while the process runs; its exit code or signal afterwards. */
  readonly exitStatus: string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<string>;
  /** The last lines the process wrote (stdout and stderr share one log file). */
  logTail(lines?: number): string;
}

const running = new Set<ServerProcess>();

/** Stops every server the bench started; used on Ctrl-C and on fatal errors. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop(5_000)));
}

export interface SpawnServerOptions {
  name: string;
  /** Script run with this very node binary, so the child's pid is the server's pid. */
  script: string;
  /** Options for node itself, before the script (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  env: NodeJS.ProcessEnv;
  url: string;
  /** Polled with GET until it answers 200. */
  readyPath: string;
  logFile: string;
  cwd?: string;
  timeoutMs?: number;
}

/** Starts a node server as a child process, output to a file, and waits until it is ready. */
export async function spawnServer(options: SpawnServerOptions): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script], { cwd: options.cwd, env: options.env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? String(code)));
    child.once('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  let exitStatus: string | undefined;
  void exited.then((status) => { exitStatus = status; });

  const logTail = (lines = 20): string => {
    try {
      return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const server: ServerProcess = {
    name: options.name,
    pid: child.pid ?? -1,
    url: options.url,
    logFile: options.logFile,
    exited,
    get exitStatus() { return exitStatus; },
    logTail,
    async stop(graceMs = 30_000) {
      if (exitStatus === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(server);
      return exited;
    },
  };
  running.add(server);

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exitStatus !== undefined) {
      running.delete(server);
      throw new Error(`${options.name} exited (${exitStatus}) before it was ready:\n${logTail()}`);
    }
    try {
      const res = await fetch(options.url + options.readyPath, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop(5_000);
      throw new Error(`${options.name} was not ready on ${options.url}${options.readyPath} within ${(options.timeoutMs ?? 60_000) / 1000} s:\n${logTail()}`);
    }
    await sleep(100);
  }
}
