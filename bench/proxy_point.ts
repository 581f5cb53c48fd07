/**
 * `node dist/bench/proxy_point.js [--scenarios 6a,7] [--duration 10]`: the one measured point that
 * checks the capacity model (docs/scaling.md): the same load through a round-robin proxy (Debian's
 * haproxy) to one Keyport instance, then to two, on MariaDB + Redis (the machine's servers, as the
 * bench uses them; REDIS_URL_TEST or redis://127.0.0.1:6379). The proxy is in front in both runs, so
 * its cost is in both. Prints req/s, p99 and each instance's CPU µs per request.
 *
 * On a 2-core machine the load generator, haproxy, MariaDB, Redis and the instances share two
 * cores: a second instance cannot double anything here. What this shows is whether the model's
 * per-request CPU holds when requests are split (the CPU per request should stay put).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKeyport } from './lib/keyport.js';
import { cpuMeter } from './lib/cpu.js';
import { measureLoad } from './lib/load.js';
import { freePort, sleep, spawnServer, stopAllServers, type ServerProcess } from './lib/processes.js';
import { KEYPORT_MAIN, REPO_ROOT } from './lib/paths.js';
import { scenarioById } from './lib/scenarios.js';
import { keyportTarget } from './lib/setup.js';
import type { ScenarioId } from './lib/options.js';
import { SERVER_NODE_OPTIONS } from '../src/server_node_options.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}

async function startHaproxy(dir: string, port: number, backends: readonly string[]): Promise<() => Promise<void>> {
  const file = join(dir, `haproxy-${port}.cfg`);
  writeFileSync(file, [
    'global', '  maxconn 4096', '  nbthread 1',
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s', '  option http-keep-alive',
    `frontend keyport`, `  bind 127.0.0.1:${port}`, '  default_backend instances',
    'backend instances', '  balance roundrobin',
    ...backends.map((url, index) => `  server k${index} ${new URL(url).host} maxconn 64`),
    '',
  ].join('\n'));
  const child = spawn('haproxy', ['-f', file, '-db'], { stdio: 'ignore' });
  await sleep(500);
  if (child.exitCode !== null) throw new Error('haproxy did not start');
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
}

async function main(): Promise<void> {
  const scenarios = option('--scenarios', '6a,7').split(',') as ScenarioId[];
  const duration = Number(option('--duration', '10'));
  const connections = Number(option('--connections', '32'));
  const redisUrl = process.env.REDIS_URL_TEST ?? 'redis://127.0.0.1:6379';
  const mysqlUrl = option('--mysql-url', 'mysql://root@127.0.0.1:3306/keyport');
  const first = await startKeyport({ db: 'mysql', mysqlUrl, extraEnv: { REDIS_URL: redisUrl, REDIS_PREFIX: `bench-proxy-${process.pid}:` } });
  let second: ServerProcess | undefined;
  try {
    const port = await freePort();
    second = await spawnServer({
      name: 'keyport (second instance)', script: KEYPORT_MAIN, nodeArgs: SERVER_NODE_OPTIONS,
      env: { ...first.env, PORT: String(port) }, url: `http://127.0.0.1:${port}`, readyPath: '/readyz',
      logFile: join(tmpdir(), `keyport-proxy-second-${process.pid}.log`), cwd: REPO_ROOT,
    });
    const target = await keyportTarget(first, scenarios, undefined);
    for (const backends of [[first.server], [first.server, second]]) {
      const proxyPort = await freePort();
      const stopProxy = await startHaproxy(tmpdir(), proxyPort, backends.map((server) => server.url));
      try {
        for (const id of scenarios) {
          const prepared = await scenarioById(id).prepare({ ...target, url: `http://127.0.0.1:${proxyPort}` }, connections);
          if (!prepared.ok || !prepared.value.load) throw new Error(`${id}: ${prepared.ok ? 'not plain HTTP' : prepared.reason}`);
          const meters = backends.map((server) => cpuMeter(server.pid));
          for (const meter of meters) meter.start();
          const measured = await measureLoad({ ...prepared.value.load, connections }, duration, 3, undefined);
          const answered = measured.completed + measured.errors;
          const cpu = meters.map((meter) => meter.perRequest(answered));
          const total = cpu.reduce((sum, value) => sum + (value?.total ?? 0), 0);
          const loops = cpu.map((value) => value?.eventLoop ?? 0);
          const line = `${backends.length} instance(s), scenario ${id}: ${Math.round(measured.perSecond)} req/s, p99 ${measured.p99Ms.toFixed(1)} ms, ${measured.errors} errors; CPU µs/req over all instances ${Math.round(total)} (event loops ${loops.map((value) => Math.round(value)).join(' + ')} per request of the whole load)`;
          console.log(line);
        }
      } finally {
        await stopProxy();
      }
    }
  } finally {
    await second?.stop();
    await first.close();
    await stopAllServers();
  }
}

main().catch(async (err: unknown) => {
  console.error(err);
  await stopAllServers();
  process.exit(1);
});
