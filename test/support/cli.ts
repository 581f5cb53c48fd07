import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Env } from '../../src/config/parse.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const KEYPORT_BIN = join(root, 'bin', 'keyport.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `keyport ARGS` in a child process, as a user would, with the given environment (and working directory). */
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
