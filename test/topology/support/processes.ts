import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The topology suite's private port range (docs/scaling.md "Tests"): real servers it starts listen
 * on 17000–17999, away from the shared MariaDB (3306) and Redis (6379) and from the ephemeral range
 * the other tests' servers get. Redis Cluster also listens on port + 10000 (its bus), so ports are
 * checked with that offset too. Each port is probed, so parallel runs and leftovers just move on.
 */
const RANGE_START = 17000;
const RANGE_END = 17999;
let cursor = RANGE_START + Math.floor(Math.random() * (RANGE_END - RANGE_START));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A free port in the private range; with `busOffset`, `port + busOffset` is free too. */
export async function privatePort(busOffset?: number): Promise<number> {
  for (let tried = 0; tried <= RANGE_END - RANGE_START; tried += 1) {
    cursor = cursor >= RANGE_END ? RANGE_START : cursor + 1;
    const port = cursor;
    if ((await portFree(port)) && (busOffset === undefined || (await portFree(port + busOffset)))) return port;
  }
  throw new Error(`no free port in ${RANGE_START}-${RANGE_END}`);
}

export function hasBinaries(...names: string[]): boolean {
  return names.every((name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` holds; throws naming `what` after `timeoutMs`. Returns the elapsed ms. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 50): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      if (await check()) return Date.now() - started;
    } catch {
      // not yet
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Every process a topology test starts, and its scratch directory: `stopAll()` (in an `after`
 * hook, which mocha runs even when `before` or a test failed) kills what is still running and
 * removes the directory. Processes are also killed when the test process exits.
 */
export class ProcessGroup {
  readonly dir = mkdtempSync(join(tmpdir(), 'keyport-topology-'));
  private readonly children = new Set<ChildProcess>();
  private readonly onExit = (): void => { for (const child of this.children) child.kill('SIGKILL'); };

  constructor() {
    process.once('exit', this.onExit);
  }

  /** Starts a process; its output is kept (last 8 KiB) for the error when it dies early. */
  start(command: string, args: readonly string[], options: { cwd?: string } = {}): ChildProcess {
    const child = spawn(command, args, { cwd: options.cwd ?? this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-8192); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    Object.defineProperty(child, 'output', { get: () => output });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** SIGKILL, as when a host dies; resolves once the process is gone. */
  async kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.kill(child)));
    process.off('exit', this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function outputOf(child: ChildProcess): string {
  return (child as ChildProcess & { output?: string }).output ?? '';
}
