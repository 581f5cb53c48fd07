import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { TEST_SECRET, freePort, startTestApp } from '../support/app.js';
import { sleep } from '../keys/helpers.js';
import {
  copiesFromStage, dockerIgnores, environmentOf, interpolate, parseCaddyfile, publishedPorts, readCompose, readDockerfile,
  readDockerignore, readRepoFile, ROOT, type ComposeFile, type ComposeService, type Dockerfile, type Stage,
} from './support.js';

const run = promisify(execFile);
/** What a user exports before `docker compose up` (the README says so); nothing else. */
const USER_ENV = { KEYPORT_SECRET: TEST_SECRET };

/**
 * Docker does not run on CI machines, so the shipped deployment files are read and checked for
 * what makes them work and safe: issue 19's list (docs/docker.md says why each matters).
 */
describe('deploy: docker-compose.yml, Dockerfile and .dockerignore as shipped', () => {
  let compose: ComposeFile;
  let keyport: ComposeService;
  let env: Record<string, string>;
  let dockerfile: Dockerfile;
  let runtime: Stage;
  let ignore: string[];

  before(async () => {
    compose = await readCompose();
    const built = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);
    expect(built.map(([name]) => name), 'one service is built from this repository').to.deep.equal(['keyport']);
    keyport = built[0]![1];
    env = Object.fromEntries(Object.entries(environmentOf(keyport)).map(([name, value]) => [name, interpolate(value, USER_ENV)]));
    dockerfile = await readDockerfile();
    runtime = dockerfile.stages.at(-1)!;
    ignore = await readDockerignore();
  });

  /** The services whose Caddyfile proxies to Keyport: [service, site address]. */
  async function proxiesToKeyport(): Promise<Array<{ name: string; service: ComposeService; address: string }>> {
    const found: Array<{ name: string; service: ComposeService; address: string }> = [];
    for (const [name, service] of Object.entries(compose.services)) {
      const mount = (service.volumes ?? []).find((volume) => volume.split(':')[1] === '/etc/caddy/Caddyfile');
      if (!mount) continue;
      const sites = parseCaddyfile(await readRepoFile(mount.split(':')[0]!.replace(/^\.\//, '')));
      for (const site of sites) if (site.reverseProxy.includes('keyport:3000')) found.push({ name, service, address: site.address });
    }
    return found;
  }

  it('serves the issuer the way its scheme says: https from the TLS proxy whose site address is the issuer, on the published port', async () => {
    const issuer = new URL(env.ISSUER!);
    expect(env.NODE_ENV).to.equal('production');
    if (issuer.protocol === 'http:') {
      // The other valid shape: plain HTTP straight to Keyport, issuer on the published port, no proxy trusted.
      expect(env.TRUST_PROXY ?? 'false').to.equal('false');
      expect(publishedPorts(keyport)).to.deep.include({ host: Number(issuer.port || 80), container: 3000 });
      return;
    }
    expect(issuer.protocol).to.equal('https:');
    const proxies = await proxiesToKeyport();
    expect(proxies, 'one TLS proxy in front of Keyport').to.have.length(1);
    const [proxy] = proxies;
    const site = new URL(proxy!.address.includes('://') ? proxy!.address : `https://${proxy!.address}`);
    expect(site.origin, 'the proxy serves exactly the issuer').to.equal(issuer.origin);
    const port = Number(issuer.port || 443);
    expect(publishedPorts(proxy!.service), 'the issuer port is published by the proxy').to.deep.include({ host: port, container: Number(site.port || 443) });
  });

  it('trusts X-Forwarded-* only behind that proxy: one hop, Keyport itself not published', async () => {
    expect(env.TRUST_PROXY).to.equal('true');
    expect(await proxiesToKeyport()).to.have.length(1);
    expect(env.TRUST_PROXY_HOPS ?? '1', 'one proxy appends to X-Forwarded-For').to.equal('1');
    expect(keyport.ports ?? [], 'port 3000 is not reachable around the proxy').to.deep.equal([]);
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === 'caddy') continue;
      expect(publishedPorts(service), `${name} publishes nothing`).to.deep.equal([]);
    }
  });

  it('bakes no secret in: KEYPORT_SECRET must come from the environment, the image has none, MySQL root is random', () => {
    const raw = environmentOf(keyport).KEYPORT_SECRET!;
    expect(raw, 'required, with no default').to.match(/^\$\{KEYPORT_SECRET:\?[^}]+\}$/);
    expect(() => interpolate(raw, {}), 'compose refuses to start without it').to.throw(/KEYPORT_SECRET/);
    const mysql = environmentOf(compose.services.mysql!);
    expect(mysql).not.to.have.property('MYSQL_ROOT_PASSWORD');
    expect(mysql.MYSQL_RANDOM_ROOT_PASSWORD).to.equal('yes');
    for (const stage of dockerfile.stages) {
      for (const instruction of stage.instructions.filter((entry) => entry.keyword === 'ENV' || entry.keyword === 'ARG')) {
        expect(instruction.args, `${instruction.keyword} ${instruction.args}`).not.to.match(/SECRET|PASSWORD|TOKEN|API_KEY|DATABASE_URL|REDIS_URL/i);
      }
    }
  });

  it('builds in stages on Node 24 LTS and runs as a non-root user', () => {
    expect(dockerfile.stages.length, 'multi-stage').to.be.at.least(2);
    for (const stage of dockerfile.stages) expect(stage.from, 'every stage on Node 24').to.match(/^node:24[.-]/);
    const users = runtime.instructions.filter((instruction) => instruction.keyword === 'USER').map((instruction) => instruction.args);
    expect(users.at(-1), 'the runtime stage ends as a named, non-root user').to.be.a('string').and.not.match(/^(root|0)(:|$)/);
    // The runtime stage takes files from the build stage only: no `COPY . .` of the context.
    const contextCopies = runtime.instructions.filter((instruction) => (instruction.keyword === 'COPY' || instruction.keyword === 'ADD') && !/--from=/.test(instruction.args));
    expect(contextCopies).to.deep.equal([]);
    // npm ci needs every workspace's package.json before it runs (the kit in packages/verify).
    const build = dockerfile.stages[0]!;
    const ciAt = build.instructions.findIndex((instruction) => instruction.keyword === 'RUN' && /\bnpm ci\b/.test(instruction.args));
    const copiedBefore = build.instructions.slice(0, ciAt).filter((instruction) => instruction.keyword === 'COPY').map((instruction) => instruction.args).join(' ');
    expect(copiedBefore).to.include('packages/verify/package.json');
    const cmd = runtime.instructions.find((instruction) => instruction.keyword === 'CMD')!.args;
    expect(cmd).to.include('dist/src/main.js');
  });

  it('keeps host builds, local data and secrets out of the build context, and every source the build needs in', async () => {
    for (const path of ['node_modules/jose/package.json', 'packages/verify/node_modules/x/index.js', 'dist/src/main.js', 'packages/verify/dist/index.js',
      'data/keyport.secret', 'data/keyport.db', '.git/config', '.env', '.env.production', 'deploy/.env', 'keyport.secret', 'certs/server.key', 'server.pem']) {
      expect(dockerIgnores(ignore, path), `${path} is left out`).to.equal(true);
    }
    const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'ormconfig.ts'];
    for (const dir of ['src', 'migrations', 'views', 'bin', 'packages', 'test', 'bench', 'examples']) {
      const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
      for (const entry of entries) {
        const path = relative(ROOT, join(entry.parentPath, entry.name));
        // Test TLS material (test/*/fixtures/*.pem, *.key) is read by tests at run time, not compiled;
        // the secret patterns keep it out like every other key file.
        if (entry.isFile() && !/(^|\/)(node_modules|dist|\.tmp)\//.test(path) && !/^test\/.*\/fixtures\/.*\.(pem|key)$/.test(path)) needed.push(path);
      }
    }
    expect(needed.length).to.be.above(100);
    const dropped = needed.filter((path) => dockerIgnores(ignore, path));
    expect(dropped, 'sources `npm run build` compiles stay in the context').to.deep.equal([]);
  });

  it('runs Redis with maxmemory and the volatile-ttl policy the docs recommend', async () => {
    const command = compose.services.redis!.command as string[];
    const option = (name: string): string | undefined => command[command.indexOf(name) + 1];
    expect(option('--maxmemory')).to.match(/^\d+(kb|mb|gb)$/i);
    expect(option('--maxmemory-policy')).to.equal('volatile-ttl');
    expect(option('--save')).to.equal('');
    expect(option('--appendonly')).to.equal('no');
    const readme = await readRepoFile('README.md');
    const redisSection = readme.slice(readme.indexOf('### Redis'), readme.indexOf('###', readme.indexOf('### Redis') + 5));
    expect(redisSection).to.include('maxmemory-policy volatile-ttl').and.not.include('maxmemory-policy allkeys-lru');
    expect(await readRepoFile('docs/docker.md')).to.include('maxmemory-policy volatile-ttl');
  });

  it('has a health check on every service, and starts each only after what it needs is healthy', () => {
    const imageHealthcheck = runtime.instructions.some((instruction) => instruction.keyword === 'HEALTHCHECK' && /readyz/.test(instruction.args));
    for (const [name, service] of Object.entries(compose.services)) {
      const defined = service.healthcheck !== undefined && !service.healthcheck.disable;
      expect(defined || (service.build !== undefined && imageHealthcheck), `${name} has a health check`).to.equal(true);
      const dependsOn = service.depends_on ?? {};
      for (const [dependency, condition] of Object.entries(Array.isArray(dependsOn) ? {} : dependsOn)) {
        expect(condition.condition, `${name} waits for ${dependency}`).to.equal('service_healthy');
      }
      expect(Array.isArray(dependsOn), `${name}: depends_on with conditions`).to.equal(false);
    }
  });

  it("starts Keyport with the compose file's own settings: https discovery under the issuer, plain HTTP refused", async () => {
    const { DATABASE_URL: _db, REDIS_URL: _redis, ...settings } = env;
    const app = await startTestApp({ env: settings });
    try {
      expect(app.config.issuer).to.equal(env.ISSUER);
      // What Caddy sends on: the client's Host, and the scheme and address it saw.
      const viaProxy = await app.http().get('/.well-known/openid-configuration')
        .set('Host', new URL(env.ISSUER!).host).set('X-Forwarded-Proto', 'https').set('X-Forwarded-For', '198.51.100.7');
      expect(viaProxy.status).to.equal(200);
      expect(viaProxy.body.issuer).to.equal(env.ISSUER);
      const urls = Object.entries(viaProxy.body as Record<string, unknown>).filter(([name, value]) => typeof value === 'string' && /(_endpoint|_uri)$/.test(name));
      expect(urls.length).to.be.above(5);
      for (const [name, url] of urls) expect(url, name).to.satisfy((value: string) => value.startsWith(`${env.ISSUER}/`));
      const direct = await app.http().get('/auth/test');
      expect(direct.status, 'a request that did not come through TLS').to.equal(403);
      expect(direct.body.error.code).to.equal('insecure_connection');
      expect((await app.http().get('/readyz')).status, 'the health check path stays plain HTTP').to.equal(200);
    } finally {
      await app.close();
    }
  });

  it('runs `npx keyport` and the CMD in the runtime stage as the Dockerfile lays it out, without building anything', async function () {
    // The test's own waits are bounded (npx 60 s, the server's readiness 30 s); mocha's default 30 s
    // ran out first on a loaded machine: npx links the image directory into its cache and reads the
    // whole dependency tree behind it (~4 s of CPU alone, 15 s with the cores four times
    // oversubscribed), and then only a timeout showed, not what npx said.
    this.timeout(120_000);
    const copies = copiesFromStage(runtime, dockerfile.stages[0]!.name!);
    expect(copies.map((copy) => copy.source)).to.include.members(['/app/bin', '/app/views', '/app/dist/src', '/app/dist/migrations', '/app/package.json', '/app/node_modules']);
    const image = await mkdtemp(join(tmpdir(), 'keyport-image-'));
    try {
      for (const { source, destination } of copies) {
        const from = join(ROOT, source.replace(/^\/app\//, ''));
        const to = join(image, destination.replace(/^\.\//, ''));
        await mkdir(join(to, '..'), { recursive: true });
        // node_modules: the image has the production subset of the same tree.
        if (source === '/app/node_modules') await symlink(from, to, 'dir');
        else await cp(from, to, { recursive: true });
      }
      expect(existsSync(join(image, 'tsconfig.json')), 'no TypeScript project in the image').to.equal(false);
      const result = await run('npx', ['--offline', 'keyport', 'agent:list', '--json'], {
        cwd: image,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ISSUER: env.ISSUER, KEYPORT_SECRET: TEST_SECRET, DATABASE_URL: `sqlite:${join(image, 'data', 'keyport.db')}`, npm_config_update_notifier: 'false' },
        timeout: 60_000,
      });
      expect(JSON.parse(result.stdout)).to.deep.equal({ agents: [] });
      expect(result.stderr).not.to.include('building');

      // The image's CMD starts the server there, and its HEALTHCHECK command sees it ready.
      const [command, ...args] = JSON.parse(runtime.instructions.find((instruction) => instruction.keyword === 'CMD')!.args) as string[];
      const port = await freePort();
      const server = spawn(command === 'node' ? process.execPath : command!, args, {
        cwd: image,
        env: { PATH: process.env.PATH, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), ISSUER: env.ISSUER, KEYPORT_SECRET: TEST_SECRET, DATABASE_URL: `sqlite:${join(image, 'data', 'keyport.db')}` },
        stdio: 'ignore',
      });
      try {
        const healthcheck = runtime.instructions.find((instruction) => instruction.keyword === 'HEALTHCHECK')!.args;
        const probe = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3)) as string[];
        const probeArgs = probe.slice(1).map((arg) => arg.replace('127.0.0.1:3000', `127.0.0.1:${port}`));
        const deadline = Date.now() + 30_000;
        while (server.exitCode === null && Date.now() < deadline && !(await fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.ok, () => false))) await sleep(100);
        expect(server.exitCode, 'the server is running').to.equal(null);
        const healthy = await run(process.execPath, probeArgs).then(() => true, () => false);
        expect(healthy, 'the HEALTHCHECK passes against the started CMD').to.equal(true);
      } finally {
        server.kill('SIGTERM');
        await new Promise((resolve) => { if (server.exitCode !== null) resolve(undefined); else server.once('exit', resolve); });
      }
    } finally {
      await rm(image, { recursive: true, force: true });
    }
  });
});
