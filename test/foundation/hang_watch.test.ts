import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';

// test/support/hang_watch (CI's guard against a test process whose event loop stops turning), run
// the way CI runs it: mocha in parallel mode, one file that starves the loop with promises that
// resolve without I/O (mocha's own timeout cannot fire), one that passes.
const ROOT = resolve(import.meta.dirname, '../../..');
const MOCHA = join(ROOT, 'node_modules/mocha/bin/mocha.js');
const PLUGIN = join(ROOT, 'dist/test/support/hang_watch.js');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MOCHA, '--no-config', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

describe('test/support/hang_watch (CI)', function () {
  this.timeout(30_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyport-hang-watch-'));
    writeFileSync(join(dir, 'starves.test.mjs'), "describe('starving', () => { it('never lets the loop turn', async function () { this.timeout(0); for (;;) await Promise.resolve(); }); });\n");
    writeFileSync(join(dir, 'passes.test.mjs'), "describe('passing', () => { it('passes', () => {}); });\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ends a test process whose event loop stopped, reports its stack, and lets the other files finish', async () => {
    const progress = join(dir, 'progress');
    const { code, output } = await run(['--parallel', '--jobs', '2', '--require', PLUGIN, join(dir, 'starves.test.mjs'), join(dir, 'passes.test.mjs')], {
      KEYPORT_TEST_PROGRESS: progress,
      KEYPORT_TEST_STALL_MS: '2000',
    });
    expect(code, output).to.equal(1);
    expect(output).to.match(/1 passing/).and.match(/1 failing/).and.include('terminated Unexpectedly');
    const log = readFileSync(progress, 'utf8');
    expect(log).to.match(/ start .*starves\.test\.mjs\n/);
    expect(log).to.match(/ test starving never lets the loop turn\n/);
    expect(log).to.match(/ end .*passes\.test\.mjs\n/);
    expect(log).not.to.match(/ end .*starves\.test\.mjs/);
    expect(log).to.match(/stall: the event loop did not turn for \d+ s.*\n {4}at .*starves\.test\.mjs:1:\d+\)/);
  });
});
