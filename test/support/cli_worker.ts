import { Readable, Writable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { runCli } from '../../src/cli/program.js';

/*
 * The other end of `runKeyportInProcess` (./cli.ts): a worker thread that runs `keyport` commands
 * through the CLI's own entry, `runCli` (src/cli/program.ts, what bin/keyport.js ends in), with
 * the environment, working directory and stdin of each request and nothing of this thread's. The
 * modules load once per test process instead of once per command (~0.5 s of CPU a command).
 */

export interface CliRequest {
  readonly id: number;
  readonly args: string[];
  readonly env: Record<string, string | undefined>;
  readonly cwd: string;
  readonly input?: string;
}

export type CliReply = { readonly id: number; readonly code: number; readonly stdout: string; readonly stderr: string } | { readonly id: number; readonly crash: string };

function collector(chunks: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      done();
    },
  });
}

async function run(request: CliRequest): Promise<CliReply> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  // A pipe, never a terminal (as the child process's stdin is): empty unless the test gives input.
  const stdin = Readable.from(request.input === undefined ? [] : [Buffer.from(request.input)]) as unknown as NodeJS.ReadStream;
  try {
    const code = await runCli(request.args, { env: request.env, cwd: request.cwd, stdin, stdout: collector(out), stderr: collector(err) });
    // Log lines pass through winston's streams a tick or two after the call that wrote them; a
    // child process flushes them before it exits.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    return { id: request.id, code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  } catch (error) {
    // runCli turns every error into an exit code; one that escapes is a bug the test must show.
    return { id: request.id, crash: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}

parentPort!.on('message', (request: CliRequest) => {
  void run(request).then((reply) => parentPort!.postMessage(reply));
});
