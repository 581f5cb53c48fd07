import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { commandBlocks, scriptOf } from './command_blocks.js';
import { SERVER_NODE_OPTIONS } from '../../src/server_node_options.js';
import { onMysql } from '../support/database.js';

/**
 * Runs the README's shell blocks, and those of the two pages README sends newcomers to next
 * (docs/oauth.md, docs/api-keys.md), as written, against a fresh server started as `npm start`
 * starts it (`node` with the server's Node options and `dist/src/main.js` once npm test has built), with a
 * temporary `DATA_DIR` so `npx keyport` and the server share one embedded SQLite database, as they
 * share ./data/ in a reader's checkout.
 *
 * What the test changes, and only that:
 * - `localhost:3000` becomes `localhost:<a free port>` (the server gets `PORT=<that port>`, the way
 *   the README's configuration table sets it), so runs never collide with a server on 3000;
 * - `curl` is `curl --fail-with-body`, so an HTTP error fails the block instead of printing a body
 *   nobody reads (a refresh that returns `invalid_grant` must fail here);
 * - a page's first `npx keyport` runs through the real npx, its later ones run bin/keyport.js
 *   (what npx resolves `keyport` to here) with `node` directly: see npxShim;
 * - the shell runs with `set -euo pipefail`: a variable a block uses but never sets fails it;
 * - the blocks run in a pseudo-terminal (`script`), as in a reader's terminal, and the test types
 *   a password when `user:create` asks for one.
 * Blocks marked `<!-- not-run: reason -->` are skipped; the reason names what covers them instead.
 * `DATABASE_URL` is ignored on purpose: the first five minutes are the embedded-SQLite path.
 */

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FILES = ['README.md', 'docs/oauth.md', 'docs/api-keys.md'] as const;
const PASSWORD = 'correct horse battery staple';
const SCRIPT = '/usr/bin/script';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} is not on PATH`);
}

/**
 * `npx` for the blocks: each page's first `npx keyport …` goes through the real npx, which proves
 * the documented command resolves to this checkout's bin/keyport.js; the page's later ones start
 * that same file with `node` directly. npx itself (npm's start-up and its read of the installed
 * tree) cost ~1.7 s of CPU per call, four times the command's own, and the three pages make ~40
 * calls in each SQLite run (CI: two). Anything but `keyport` goes to the real npx.
 */
function npxShim(realNpx: string): string {
  return [
    '#!/bin/sh',
    `if [ "$1" = keyport ] && [ -e "$KEYPORT_TEST_NPX_SEEN" ]; then shift; exec node '${join(REPO_ROOT, 'bin', 'keyport.js')}' "$@"; fi`,
    `if [ "$1" = keyport ]; then : > "$KEYPORT_TEST_NPX_SEEN"; fi`,
    `exec '${realNpx}' "$@"`,
    '',
  ].join('\n');
}

interface Run {
  code: number | null;
  output: string;
}

/** The README's environment: nothing of the test runner's (no DATABASE_URL, KEYPORT_SECRET, REDIS_URL). */
function readerEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    CI: 'true',
    DATA_DIR: dataDir,
    ...extra,
  };
}

async function startServer(dataDir: string, port: number): Promise<ChildProcess> {
  const server = spawn(process.execPath, [...SERVER_NODE_OPTIONS, 'dist/src/main.js'], {
    cwd: REPO_ROOT,
    env: readerEnv(dataDir, { PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  server.stdout!.on('data', (chunk: Buffer) => { log += chunk.toString(); });
  server.stderr!.on('data', (chunk: Buffer) => { log += chunk.toString(); });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited (${server.exitCode}):\n${log}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (response.status === 200) return server;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  server.kill('SIGKILL');
  throw new Error(`the server did not become ready within 30 s:\n${log}`);
}

function stopServer(server: ChildProcess | undefined): Promise<void> {
  if (!server || server.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.once('exit', () => resolve());
    server.kill('SIGTERM');
  });
}

/** Runs the script in a pseudo-terminal; answers the CLI's password prompts. */
function runInTerminal(scriptPath: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(SCRIPT, ['-qefc', `bash ${scriptPath}`, '/dev/null'], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = 0;
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const prompts = output.match(/(?:Repeat p|P)assword: /g)?.length ?? 0;
      for (; answered < prompts; answered++) child.stdin!.write(`${PASSWORD}\r`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      child.stdin!.destroy();
      resolve({ code, output });
    });
  });
}

describe('docs: the README and first-steps pages run as written', function () {
  this.timeout(240_000);
  let scratch: string;
  let shimDir: string;

  before(function () {
    // The blocks describe the embedded-SQLite path and run on it whatever DATABASE_URL says, so the
    // MariaDB run of the suite would repeat the SQLite run's work exactly (the slowest file: ~40
    // CLI starts). It runs in every SQLite run (CI: Node 20 and Node 24).
    if (onMysql) {
      console.log('    (runs in the SQLite runs: the README blocks use the embedded database whatever DATABASE_URL says)');
      this.skip();
    }
    if (!existsSync(SCRIPT)) {
      expect(['true', '1'], `${SCRIPT} (util-linux) is required for the README test in CI`).not.to.include(process.env.CI);
      console.log(`    (skipped: no ${SCRIPT} to give the blocks a terminal)`);
      this.skip();
    }
    scratch = mkdtempSync(join(tmpdir(), 'keyport-readme-'));
    shimDir = join(scratch, 'bin');
    mkdirSync(shimDir);
    writeFileSync(join(shimDir, 'curl'), `#!/bin/sh\nexec '${onPath('curl')}' --fail-with-body "$@"\n`);
    chmodSync(join(shimDir, 'curl'), 0o755);
    writeFileSync(join(shimDir, 'npx'), npxShim(onPath('npx')));
    chmodSync(join(shimDir, 'npx'), 0o755);
  });

  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const file of FILES) {
    it(`${file}: every shell block runs in order against a fresh server`, async () => {
      const blocks = commandBlocks(readFileSync(join(REPO_ROOT, file), 'utf8'));
      expect(blocks.filter((block) => !block.notRun), `${file} has shell blocks to run`).not.to.be.empty;
      const dataDir = join(scratch, file.replace(/\W/g, '_'));
      mkdirSync(dataDir);
      const port = await freePort();
      const server = await startServer(dataDir, port);
      try {
        const scriptPath = join(scratch, `${file.replace(/\W/g, '_')}.sh`);
        const npxSeen = join(scratch, `${file.replace(/\W/g, '_')}.npx-seen`);
        writeFileSync(scriptPath, scriptOf(file, blocks, (code) => code.replaceAll('localhost:3000', `localhost:${port}`)));
        const run = await runInTerminal(scriptPath, readerEnv(dataDir, {
          PATH: `${shimDir}:${process.env.PATH}`,
          TERM: 'dumb',
          KEYPORT_TEST_NPX_SEEN: npxSeen,
          // npx must find the checkout's own bin, never ask a registry.
          npm_config_offline: 'true',
          npm_config_update_notifier: 'false',
          npm_config_fund: 'false',
        }), 200_000);
        const failedAt = run.output.match(/::block (\S+)/g)?.at(-1);
        expect(run.code, `${file} failed in ${failedAt ?? 'its first block'}:\n${run.output}`).to.equal(0);
        expect(run.output).to.include('::all blocks ran');
        expect(existsSync(npxSeen), `${file}: its first \`npx keyport\` ran through the real npx`).to.equal(true);
      } finally {
        await stopServer(server);
      }
    });
  }

  it('skips only blocks marked with a reason, and the browser-only authorization-code example is correct as written', () => {
    const skipped = FILES.flatMap((file) => commandBlocks(readFileSync(join(REPO_ROOT, file), 'utf8')).filter((block) => block.notRun).map((block) => ({ file, ...block })));
    // Few and justified: README's setup and Docker blocks, the browser sign-in of docs/oauth.md.
    expect(skipped.map((block) => block.file)).to.deep.equal(['README.md', 'README.md', 'docs/oauth.md', 'docs/oauth.md']);
    for (const block of skipped) expect(block.notRun, `${block.file}:${block.line}`).to.match(/test\/|docs\//);
    const authCode = skipped.find((block) => block.code.includes('/oauth/authorize'))!;
    // A refresh token comes back only when offline_access is asked for with prompt=consent.
    expect(authCode.code).to.match(/scope=[^&"]*offline_access/).and.to.include('prompt=consent');
    // `open` alone is macOS; Linux has xdg-open.
    for (const line of authCode.code.split('\n')) {
      if (/^\s*open\s/.test(line)) expect.fail(`bare \`open\` (macOS only) in docs/oauth.md: ${line}`);
    }
    expect(authCode.code).to.include('xdg-open');
    // Every variable the skipped block uses is set in it or in an earlier block of its file.
    const earlier = commandBlocks(readFileSync(join(REPO_ROOT, 'docs/oauth.md'), 'utf8')).filter((block) => block.line <= authCode.line).map((block) => block.code).join('\n');
    const used = new Set([...authCode.code.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)].map((match) => match[1]!));
    for (const name of used) expect(earlier, `$${name} is never set before docs/oauth.md:${authCode.line}`).to.match(new RegExp(`(^|[\\s(])${name}=`, 'm'));
  });
});
