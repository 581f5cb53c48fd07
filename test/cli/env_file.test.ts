import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';
import { findEnvFile, withEnvFile } from '../../src/config/env_file.js';
import { TEST_SECRET } from '../support/app.js';
import { runKeyport } from '../support/cli.js';
import { createScratchDatabase, onMysql, type ScratchDatabase } from '../support/database.js';

/** A project: package.json at the top, a .env beside it, a subdirectory to run from. */
function project(envText: string | undefined): { top: string; sub: string; outer: string } {
  const outer = mkdtempSync(join(tmpdir(), 'kp-envfile-'));
  const top = join(outer, 'project');
  const sub = join(top, 'scripts', 'nested');
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(top, 'package.json'), '{}');
  if (envText !== undefined) writeFileSync(join(top, '.env'), envText);
  return { top, sub, outer };
}

describe('config: the .env file (src/config/env_file.ts)', () => {
  const made: string[] = [];
  const make = (envText: string | undefined) => {
    const dirs = project(envText);
    made.push(dirs.outer);
    return dirs;
  };
  after(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });

  it('is found in the working directory or a parent, never above the project root', () => {
    const { top, sub, outer } = make('A=1');
    expect(findEnvFile(sub)).to.equal(join(top, '.env'));
    expect(findEnvFile(top)).to.equal(join(top, '.env'));
    // A .env above the project (e.g. in a home directory) is not the project's.
    writeFileSync(join(outer, '.env'), 'B=2');
    rmSync(join(top, '.env'));
    expect(findEnvFile(sub)).to.equal(undefined);
  });

  it('sits under the environment: set variables win; relative paths count from the file; ./data is next to it', () => {
    const { top, sub } = make(['# comment', 'PORT=4000', 'LOG_LEVEL=debug', 'DATA_DIR=./state', 'TLS_CERT=certs/c.pem', 'TLS_KEY=/abs/k.pem', 'DATABASE_URL="sqlite:db/k.db"'].join('\n'));
    const resolved = withEnvFile({ PORT: '5000', KEYPORT_SECRET: TEST_SECRET }, sub);
    expect(resolved.file?.path).to.equal(join(top, '.env'));
    expect(resolved.env).to.include({ PORT: '5000', LOG_LEVEL: 'debug', DATA_DIR: join(top, 'state'), TLS_CERT: join(top, 'certs/c.pem'), TLS_KEY: '/abs/k.pem', DATABASE_URL: `sqlite:${join(top, 'db/k.db')}` });
    const config = loadConfig({ ...resolved.env, TLS_CERT: undefined, TLS_KEY: undefined }, resolved.cwd);
    expect(config.port).to.equal(5000);
    expect(config.database).to.deep.equal({ type: 'sqlite', path: join(top, 'db/k.db') });

    const bare = make(`KEYPORT_SECRET=${TEST_SECRET}`);
    const defaults = loadConfig(withEnvFile({}, bare.sub).env, bare.sub);
    expect(defaults.dataDir).to.equal(join(bare.top, 'data'));
    expect(defaults.database).to.deep.equal({ type: 'sqlite', path: join(bare.top, 'data', 'keyport.db') });
    // A relative DATA_DIR from the environment itself stays relative to the working directory.
    expect(loadConfig(withEnvFile({ DATA_DIR: './here' }, bare.sub).env, bare.sub).dataDir).to.equal(join(bare.sub, 'here'));
  });

  it('changes nothing without a file; KEYPORT_ENV_FILE names one explicitly and must exist', () => {
    const { sub, top } = make(undefined);
    expect(withEnvFile({ A: '1' }, sub)).to.deep.equal({ env: { A: '1' }, cwd: sub });
    writeFileSync(join(top, 'custom.env'), 'LOG_LEVEL=warn');
    expect(withEnvFile({ KEYPORT_ENV_FILE: '../../custom.env' }, sub).env).to.include({ LOG_LEVEL: 'warn' });
    expect(() => withEnvFile({ KEYPORT_ENV_FILE: 'missing.env' }, sub)).to.throw(ConfigError, /^KEYPORT_ENV_FILE: .*missing\.env is not a file/);
  });
});

describe('CLI: run from a subdirectory of a project with a .env', function () {
  this.timeout(120_000);
  let database: ScratchDatabase | undefined;
  let dirs: { top: string; sub: string; outer: string };
  before(async () => {
    database = onMysql ? await createScratchDatabase() : undefined;
    // Before: the CLI read the environment only, and ./data relative to wherever it was started.
    dirs = project([`KEYPORT_SECRET=${TEST_SECRET}`, 'BCRYPT_ROUNDS=4', ...(database ? [`DATABASE_URL=${database.url}`] : [])].join('\n'));
  });
  after(async () => {
    await database?.drop();
    rmSync(dirs.outer, { recursive: true, force: true });
  });

  it('uses the project\'s ./data (or its DATABASE_URL) and says so after each write', async () => {
    const created = await runKeyport(['agent:create', '--name', 'from-a-subdirectory', '--json'], {}, undefined, { cwd: dirs.sub });
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stderr).to.match(onMysql
      ? /^keyport: using mysql:\/\/root@[^ ]+\/keyport_t_[0-9a-f]+ \(settings from \.\.\/\.\.\/\.env\)\n$/
      : /^keyport: using sqlite:\.\.\/\.\.\/data\/keyport\.db \(settings from \.\.\/\.\.\/\.env\)\n$/);
    if (!onMysql) {
      expect(existsSync(join(dirs.top, 'data', 'keyport.db'))).to.equal(true);
      expect(existsSync(join(dirs.sub, 'data'))).to.equal(false);
    }
    // From the project root: the same database, now shown as ./data.
    const listed = await runKeyport(['agent:list', '--json'], {}, undefined, { cwd: dirs.top });
    expect(listed.code, listed.stderr).to.equal(0);
    expect(JSON.parse(listed.stdout).agents.map((agent: { name: string }) => agent.name)).to.deep.equal(['from-a-subdirectory']);
    const again = await runKeyport(['agent:create', '--name', 'from-the-root', '--json'], {}, undefined, { cwd: dirs.top });
    expect(again.stderr).to.match(onMysql ? /keyport: using mysql:.* \(settings from \.\/\.env\)/ : /^keyport: using sqlite:\.\/data\/keyport\.db \(settings from \.\/\.env\)\n$/);
  });
});
