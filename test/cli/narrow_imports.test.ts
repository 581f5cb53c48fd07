import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { TEST_SECRET, freePort } from '../support/app.js';
import { KEYPORT_BIN } from '../support/cli.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/database.js';

let traces = 0;

/**
 * What a command loads, seen from inside the child by a module-resolution hook (node:module
 * `register`): every ESM import, ours and the packages'. No timing: the start-up figures are in
 * docs/cli.md; this keeps the reason for them, a listing command that leaves the server graph alone.
 */
function runTraced(hookDir: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; loaded: string[]; stderr: string; outcome: string }> {
  const register = pathToFileURL(join(hookDir, 'register.mjs')).href;
  // One line per resolved module, appended synchronously by the hook: on Node 24 the hooks run on
  // their own thread, and what they wrote to stderr could be lost when a quick command exited.
  const trace = join(hookDir, `loaded-${++traces}.txt`);
  writeFileSync(trace, '');
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', register, KEYPORT_BIN, ...args], { env: { PATH: process.env.PATH, ...env, KEYPORT_TEST_TRACE: trace }, timeout: 30_000 }, (error, stdout, stderr) => {
      const loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
      rmSync(trace, { force: true });
      // What a failed assertion should say: how the command ended (a signal: the 30 s bound), and what it printed.
      const outcome = `exit ${error ? (error.code ?? 'none') : 0}${error?.signal ? `, ${error.signal}${error.killed ? ' (killed after 30 s)' : ''}` : ''}; stdout: ${stdout.slice(0, 500)}; stderr: ${stderr.slice(0, 1500)}`;
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, loaded, stderr, outcome });
    });
  });
}

/** Modules of the whole server graph (src/service_container.ts) that no listing command needs. */
const SERVER_GRAPH = [
  /\/node_modules\/oidc-provider\//,
  /\/node_modules\/ioredis\//,
  /\/node_modules\/koa\//,
  /\/node_modules\/rate-limiter-flexible\//,
  /\/node_modules\/prom-client\//,
  /\/dist\/src\/service_container\.js$/,
  /\/dist\/src\/oidc\/services\.js$/,
  /\/dist\/src\/oidc\/engine\.js$/,
  /\/dist\/src\/oidc\/provider_host\.js$/,
  /\/dist\/src\/exchange\/(index|session_tokens|session_directory|session_refresh|key_revocation_reaction|key_liveness|exchange_audiences|expired_session_cleanup)\.js$/,
  /\/dist\/src\/ratelimit\//,
  /\/dist\/src\/dashboard\//,
  /\/dist\/src\/lib\/redis\.js$/,
];

/**
 * Node 20 has only module.register, whose hooks run on a thread of their own; with the cores
 * oversubscribed that thread has hung a command for good at least three times in CI
 * (`signing-key:list` after printing its answer, `resource:list` twice before: the process alive,
 * its timers firing, a MessagePort among its active resources). That is the tracer failing, not
 * the CLI, and what a command loads does not depend on the Node version, so the check runs where
 * the hooks are synchronous (module.registerHooks: Node 22.15+, 24): CI's Node 24 suite runs it.
 */
const hooksOnOwnThread = typeof (nodeModule as { registerHooks?: unknown }).registerHooks !== 'function';

(hooksOnOwnThread ? describe.skip : describe)('the CLI builds only what a command needs', function () {
  // Child processes on a busy 2-core machine.
  this.timeout(120_000);
  let database: ScratchDatabase;
  let env: Record<string, string>;

  before(async () => {
    database = await createScratchDatabase({ schema: 'empty' });
    // Where Node has them (22.15+, 24), the hooks are synchronous and run on the command's own thread
    // (module.registerHooks): the off-thread hooks of module.register hung a command on Node 24 twice,
    // with the cores oversubscribed (a known failure mode of the hooks thread). Node 20 has only
    // module.register. The synchronous hooks also see require(), so they trace at least as much.
    writeFileSync(join(database.dir, 'hooks.mjs'), [
      "import { appendFileSync } from 'node:fs';",
      'function record(resolved) {',
      "  if (resolved.url.startsWith('file:') && process.env.KEYPORT_TEST_TRACE) appendFileSync(process.env.KEYPORT_TEST_TRACE, resolved.url + '\\n');",
      '  return resolved;',
      '}',
      'export function resolveSync(specifier, context, next) { return record(next(specifier, context)); }',
      'export async function resolve(specifier, context, next) { return record(await next(specifier, context)); }',
    ].join('\n'));
    const hooks = JSON.stringify(pathToFileURL(join(database.dir, 'hooks.mjs')).href);
    // A command still running after 20 s says what keeps it alive (a command lists in about a second;
    // the 30 s bound kills it): on Node 20, signing-key:list once printed its answer and did not exit,
    // with the three suites side by side. If nothing is printed, the main thread itself was blocked.
    writeFileSync(join(database.dir, 'register.mjs'), [
      "import * as module from 'node:module';",
      `import { resolveSync } from ${hooks};`,
      `if (typeof module.registerHooks === 'function') module.registerHooks({ resolve: resolveSync });`,
      `else module.register(${hooks});`,
      "setTimeout(() => process.stderr.write('still running after 20 s; active resources: ' + JSON.stringify(process.getActiveResourcesInfo()) + '\\n'), 20_000).unref();",
    ].join('\n'));
    // REDIS_URL points at nothing: a listing command must not even try it.
    const base = { KEYPORT_SECRET: TEST_SECRET, DATA_DIR: database.dir, DATABASE_URL: database.url };
    env = { ...base, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const migrated = await runTraced(database.dir, ['migrate', '--json'], base);
    expect(migrated.code, migrated.outcome).to.equal(0);
  });
  after(async () => { await database.drop(); });

  for (const args of [['agent:list'], ['key:list'], ['key:show', 'key_missing'], ['client:list'], ['user:list'], ['signing-key:list'], ['resource:list']]) {
    it(`\`keyport ${args.join(' ')}\` loads neither the engine, nor Redis, nor src/service_container.ts`, async () => {
      const result = await runTraced(database.dir, [...args, '--json'], env);
      // key:show of an unknown id is a user mistake (exit 1) after the same start-up.
      expect(result.code, result.outcome).to.equal(args[0] === 'key:show' ? 1 : 0);
      expect(result.stderr).not.to.match(/redis/i);
      // The hook works: the database layer was loaded and seen.
      expect(result.loaded.some((url) => url.endsWith('/dist/src/cli/dependencies.js'))).to.equal(true);
      expect(result.loaded.some((url) => url.includes('/node_modules/typeorm/'))).to.equal(true);
      const graph = result.loaded.filter((url) => SERVER_GRAPH.some((pattern) => pattern.test(url)));
      expect(graph, 'server-graph modules loaded').to.deep.equal([]);
    });
  }

  it('`keyport --help` loads no database layer either', async () => {
    const result = await runTraced(database.dir, ['--help'], env);
    expect(result.code, result.outcome).to.equal(0);
    expect(result.loaded.some((url) => url.endsWith('/dist/src/cli/program.js'))).to.equal(true);
    expect(result.loaded.filter((url) => /\/node_modules\/typeorm\/|\/dist\/src\/db\/|\/dist\/src\/config\/config\.js$|\/dist\/src\/service_container\.js$/.test(url))).to.deep.equal([]);
  });
});
