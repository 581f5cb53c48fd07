import { execFile, spawn, type ExecFileException } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { TEST_SECRET, freePort } from '../support/app.js';
import { createScratchDatabase, onMysql, type ScratchDatabase } from '../support/database.js';
import { ROOT } from './support.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  error?: ExecFileException;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeout ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, error: error ?? undefined });
    });
  });
}

/** The packages `npm install` of the tarball needs (production, hoisted), from the lockfile. */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, meta]) => path.startsWith('node_modules/') && !meta.dev && !meta.link && !path.slice('node_modules/'.length).includes('/node_modules/'))
    .map(([path]) => path.slice('node_modules/'.length));
}

/**
 * The package as someone outside the clone gets it (issue 19): `npm pack`, `npm install` of the
 * tarball into a fresh directory, and its `keyport` bin run from elsewhere. Before: package.json
 * said `private`, listed no `files` (the tarball would have carried the sources and no dist/), and
 * bin/keyport.js was only ever run inside the clone.
 *
 * `npm install` from the registry took about two minutes on the shared CI machine (176 packages,
 * two native builds), so the install directory is first seeded with the clone's own installed
 * production packages (hard links when the file system allows, copies otherwise): npm then only
 * checks them against the tarball's dependency ranges and adds the package itself. Install
 * scripts are not run, so nothing is rebuilt into the seeded (linked) files.
 */
describe('deploy: the npm package (npm pack → npm install → keyport)', function () {
  this.timeout(180_000);
  let dir: string;
  let database: ScratchDatabase | undefined;
  let npmMissing = false;

  before(async () => {
    const version = await run('npm', ['--version'], { cwd: ROOT });
    if (version.error && (version.error as NodeJS.ErrnoException).code === 'ENOENT') npmMissing = true;
    dir = mkdtempSync(join(tmpdir(), 'keyport-pack-'));
  });
  after(async () => {
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs, installs outside the clone, runs `keyport --version`, `--help` and commands against a database, and starts the server', async function () {
    if (npmMissing) {
      console.log('      (skipped: npm is not on PATH; the package test needs it)');
      this.skip();
    }
    const started = Date.now();
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean; files?: string[]; bin?: Record<string, string> };
    expect(manifest.private, 'package.json must not be private').to.equal(undefined);
    expect(manifest.files).to.be.an('array');
    expect(manifest.bin).to.deep.equal({ keyport: 'bin/keyport.js' });

    // 1. The tarball, from the built tree (dist/ is what the suite runs; no prepack build here).
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
    expect(packed.code, packed.stderr).to.equal(0);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((file) => file.path);
    for (const needed of ['package.json', 'bin/keyport.js', 'dist/src/cli/index.js', 'dist/src/main.js', 'views/login.ejs', 'docs/openapi.json', '.env.example', 'README.md']) {
      expect(files, needed).to.include(needed);
    }
    expect(files.some((path) => path.startsWith('dist/migrations/') && path.endsWith('.js')), 'compiled migrations').to.equal(true);
    const strays = files.filter((path) => /^(src|test|bench|dist\/test|node_modules|data|\.ci)\//.test(path) || path.endsWith('.map') || path.endsWith('.ts') || path === '.env');
    expect(strays, 'only what runs is shipped').to.deep.equal([]);
    const tarball = join(dir, info!.filename);

    // 2. Install it into a fresh project directory, seeded with the clone's production packages.
    const app = join(dir, 'app');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    for (const name of productionPackages()) {
      const from = join(ROOT, 'node_modules', name);
      if (!existsSync(from)) continue;
      mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
      const linked = await run('cp', ['-al', from, join(app, 'node_modules', name)], { cwd: dir });
      if (linked.code !== 0) expect((await run('cp', ['-a', from, join(app, 'node_modules', name)], { cwd: dir })).code).to.equal(0);
    }
    const npmFlags = ['--prefix', app, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
    let installed = await run('npm', ['install', ...npmFlags, '--offline', tarball], { cwd: dir, timeout: 150_000 });
    // Anything the seed and the cache lack comes from the registry.
    if (installed.code !== 0) installed = await run('npm', ['install', ...npmFlags, '--prefer-offline', tarball], { cwd: dir, timeout: 150_000 });
    expect(installed.code, installed.stderr).to.equal(0);
    const bin = join(app, 'node_modules', '.bin', 'keyport');
    expect(existsSync(bin), 'npm linked the bin').to.equal(true);
    expect(realpathSync(bin).startsWith(realpathSync(dir)), 'the bin is the installed copy, not the clone').to.equal(true);
    expect(existsSync(join(app, 'node_modules', 'keyport', 'tsconfig.json')), 'no sources to build from').to.equal(false);

    // 3. Run it from a directory outside the clone, with a .env there, as a new user would.
    const work = join(dir, 'work');
    mkdirSync(work);
    const env = { PATH: process.env.PATH, HOME: dir } as NodeJS.ProcessEnv;
    const version = await run(bin, ['--version'], { cwd: work, env });
    expect(version.code, version.stderr).to.equal(0);
    expect(version.stdout.trim()).to.equal(manifest.version);
    const help = await run(bin, ['--help'], { cwd: work, env });
    expect(help.code, help.stderr).to.equal(0);
    expect(help.stdout).to.include('Usage: keyport').and.include('agent:create').and.include('client:rotate-secret');

    database = onMysql ? await createScratchDatabase({ schema: 'empty' }) : undefined;
    writeFileSync(join(work, '.env'), [`KEYPORT_SECRET=${TEST_SECRET}`, 'DATA_DIR=./state', 'BCRYPT_ROUNDS=4', ...(database ? [`DATABASE_URL=${database.url}`] : [])].join('\n'));
    const migrated = await run(bin, ['migrate', '--json'], { cwd: work, env });
    expect(migrated.code, migrated.stderr).to.equal(0);
    expect((JSON.parse(migrated.stdout) as { applied: string[] }).applied.length).to.be.above(0);
    expect(migrated.stderr).to.match(onMysql ? /keyport: using mysql:\/\// : /keyport: using sqlite:\.\/state\/keyport\.db \(settings from \.\/\.env\)/);
    const created = await run(bin, ['agent:create', '--name', 'packed', '--json'], { cwd: work, env });
    expect(created.code, created.stderr).to.equal(0);
    const listed = await run(bin, ['agent:list', '--json'], { cwd: work, env });
    expect((JSON.parse(listed.stdout) as { agents: Array<{ name: string }> }).agents.map((agent) => agent.name)).to.deep.equal(['packed']);
    if (!onMysql) expect(existsSync(join(work, 'state', 'keyport.db'))).to.equal(true);

    // 4. The server of the installed package starts on that .env and serves (views, docs/openapi.json).
    const port = await freePort();
    const server = spawn(process.execPath, [join(app, 'node_modules', 'keyport', 'dist', 'src', 'main.js')], { cwd: work, env: { ...env, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let serverOutput = '';
    server.stdout.on('data', (chunk: Buffer) => { serverOutput += chunk.toString(); });
    server.stderr.on('data', (chunk: Buffer) => { serverOutput += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
    try {
      let ready: Response | undefined;
      for (let attempt = 0; attempt < 150 && !ready?.ok && server.exitCode === null; attempt++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (!ready?.ok) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(ready?.status, serverOutput).to.equal(200);
      const openapi = await fetch(`http://127.0.0.1:${port}/openapi.json`);
      expect(openapi.status, serverOutput).to.equal(200);
      expect(((await openapi.json()) as { openapi: string }).openapi).to.match(/^3\./);
      const login = await fetch(`http://127.0.0.1:${port}/dashboard/login`);
      expect(login.status, serverOutput).to.equal(200);
    } finally {
      server.kill('SIGTERM');
      await exited;
    }

    // 5. `npm exec` (what `npx keyport` runs) finds the same bin.
    const viaExec = await run('npm', ['exec', '--prefix', app, '--offline', '--', 'keyport', '--version'], { cwd: app, env: { ...process.env, npm_config_yes: 'true' } });
    expect(viaExec.code, viaExec.stderr).to.equal(0);
    expect(viaExec.stdout.trim()).to.equal(manifest.version);
    console.log(`      (pack, install and runs took ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  });
});
