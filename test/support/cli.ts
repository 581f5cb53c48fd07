import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Env } from '../../src/config/parse.js';
import type { CliReply, CliRequest } from './cli_worker.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const KEYPORT_BIN = join(root, 'bin', 'keyport.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `keyport ARGS` in a child process, as a user would, with the given environment (and working
 * directory). For what only a process shows: bin/keyport.js, the exit status, that the command
 * ends (nothing left open), a process's stdin. Each start costs ~0.5 s of CPU (module loading);
 * tests of what a command does use runKeyportInProcess.
 */
export function runKeyport(args: string[], env: Env, input?: string, options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [KEYPORT_BIN, ...args], { env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv, timeout: 30_000, cwd: options.cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (result: CliResult) => void; reject: (error: Error) => void }>();

function cliWorker(): Worker {
  if (worker) return worker;
  // Its own thread, not this one: a command on SQLite waits for a lock synchronously
  // (busy_timeout), which on the test's thread would also stop the server holding it. Its
  // process.env is empty: a command sees only the environment a test gives it.
  const started = new Worker(new URL('./cli_worker.js', import.meta.url), { env: {}, stdout: false, stderr: false });
  started.unref();
  started.on('message', (reply: CliReply) => {
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    if (!waiting) return;
    if ('crash' in reply) waiting.reject(new Error(`keyport crashed in process: ${reply.crash}`));
    else waiting.resolve({ code: reply.code, stdout: reply.stdout, stderr: reply.stderr });
  });
  const fail = (error: Error): void => {
    if (worker === started) worker = undefined;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the CLI worker exited (${code})`)));
  worker = started;
  return started;
}

/**
 * Runs `keyport ARGS` as runKeyport does (same environment, working directory, stdin and result)
 * but through the CLI's own entry, runCli (src/cli/program.ts), in a worker thread that loads the
 * CLI's modules once per test process (test/support/cli_worker.ts). Each command still opens and
 * closes its own database connection and reads its configuration from the given environment.
 */
export function runKeyportInProcess(args: string[], env: Env, input?: string, options: { cwd?: string } = {}): Promise<CliResult> {
  const request: CliRequest = { id: ++nextId, args, env: { PATH: process.env.PATH, ...env }, cwd: options.cwd ?? process.cwd(), input };
  return new Promise<CliResult>((resolve, reject) => {
    pending.set(request.id, { resolve, reject });
    const target = cliWorker();
    target.ref();
    target.postMessage(request);
  }).finally(() => {
    if (pending.size === 0) worker?.unref();
  });
}
