import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { outputOf, privatePort, type ProcessGroup, waitFor } from './processes.js';

/** One redis-server of a deployment. */
export interface RedisNode {
  readonly port: number;
  readonly process: ChildProcess;
}

/** A short-lived plain client for the test's own looks (never Keyport's client). */
export async function ask<T>(port: number, command: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await command(client);
  } finally {
    client.disconnect();
  }
}

// No 5 s wait before a replica's first full sync (Redis 7's diskless default): a replica that never
// synced is not eligible for promotion, and the failover tests kill a master soon after the start.
const COMMON = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no', '--repl-diskless-sync-delay', '0'];

async function startServer(group: ProcessGroup, port: number, extra: readonly string[]): Promise<RedisNode> {
  const child = group.start('redis-server', ['--port', String(port), ...COMMON, ...extra]);
  try {
    await waitFor(`redis-server on ${port}`, () => ask(port, (client) => client.ping()).then((pong) => pong === 'PONG'), 10_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${outputOf(child)}`);
  }
  return { port, process: child };
}

export const SENTINEL_MASTER_NAME = 'keyport-topology';

/**
 * One master, one replica, three sentinels (quorum 2), all on this host. Failure detection is
 * fast on purpose (down-after 1 s) so a failover test stays short; production keeps Redis's
 * defaults or its own.
 */
export class SentinelDeployment {
  private constructor(readonly master: RedisNode, readonly replica: RedisNode, readonly sentinels: RedisNode[], private readonly group: ProcessGroup) {}

  static async start(group: ProcessGroup): Promise<SentinelDeployment> {
    const master = await startServer(group, await privatePort(), []);
    const replica = await startServer(group, await privatePort(), ['--replicaof', '127.0.0.1', String(master.port), '--replica-announce-ip', '127.0.0.1']);
    const sentinels: RedisNode[] = [];
    for (let index = 0; index < 3; index += 1) {
      const port = await privatePort();
      const file = join(group.dir, `sentinel-${port}.conf`);
      writeFileSync(file, [
        `port ${port}`,
        'bind 127.0.0.1',
        'protected-mode no',
        `dir ${group.dir}`,
        'sentinel resolve-hostnames no',
        'sentinel announce-ip 127.0.0.1',
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
        '',
      ].join('\n'));
      const child = group.start('redis-server', [file, '--sentinel']);
      await waitFor(`sentinel on ${port}`, () => ask(port, (client) => client.ping()).then((pong) => pong === 'PONG'), 10_000);
      sentinels.push({ port, process: child });
    }
    const deployment = new SentinelDeployment(master, replica, sentinels, group);
    // Ready for a failover: the replica is in sync and every sentinel knows the other two.
    await waitFor('the replica to sync', () => ask(replica.port, (client) => client.info('replication')).then((info) => info.includes('master_link_status:up')), 15_000);
    await waitFor('the sentinels to find each other and the replica', async () => {
      for (const sentinel of sentinels) {
        const [others, replicas] = await ask(sentinel.port, async (client) => [
          (await client.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME)) as unknown[],
          (await client.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as unknown[],
        ]);
        if (others!.length < 2 || replicas!.length < 1) return false;
      }
      return true;
    }, 20_000, 200);
    return deployment;
  }

  /** `REDIS_SENTINELS` + `REDIS_SENTINEL_NAME` for Keyport. */
  get env(): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinels.map((node) => `127.0.0.1:${node.port}`).join(','), REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME };
  }

  /** The master's port as the sentinels name it now. */
  async currentMasterPort(): Promise<number> {
    for (const sentinel of this.sentinels) {
      try {
        const [, port] = (await ask(sentinel.port, (client) => client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME))) as [string, string];
        return Number(port);
      } catch {
        // the next sentinel
      }
    }
    throw new Error('no sentinel answered');
  }

  /** Kills the current master (SIGKILL) and returns its port. */
  async killMaster(): Promise<number> {
    const port = await this.currentMasterPort();
    const node = [this.master, this.replica].find((candidate) => candidate.port === port)!;
    await this.group.kill(node.process);
    return port;
  }
}

/**
 * Redis Cluster: three masters with one replica each (`redis-cli --cluster create … --cluster-replicas 1`),
 * so that a dead master's slots fail over to its replica. Node timeout 1 s (the failover test's
 * bound); production keeps its own.
 */
export class ClusterDeployment {
  private constructor(readonly nodes: RedisNode[], private readonly group: ProcessGroup) {}

  static async start(group: ProcessGroup): Promise<ClusterDeployment> {
    const nodes: RedisNode[] = [];
    for (let index = 0; index < 6; index += 1) {
      const port = await privatePort(10_000);
      nodes.push(await startServer(group, port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--cluster-announce-ip', '127.0.0.1', '--dir', group.dir]));
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
    const deployment = new ClusterDeployment(nodes, group);
    await deployment.waitHealthy(20_000);
    // Ready for a failover: every replica is in sync with its master.
    await waitFor('every replica to sync', async () => {
      let synced = 0;
      for (const node of nodes) {
        const info = await ask(node.port, (client) => client.info('replication'));
        if (info.includes('role:slave') && info.includes('master_link_status:up')) synced += 1;
      }
      return synced === 3;
    }, 20_000, 100);
    return deployment;
  }

  /** Every live node says cluster_state:ok and knows three masters. */
  async waitHealthy(timeoutMs: number): Promise<number> {
    return waitFor('cluster_state:ok on every node', async () => {
      for (const node of this.live()) {
        const info = await ask(node.port, (client) => client.call('CLUSTER', 'INFO') as Promise<string>);
        if (!info.includes('cluster_state:ok')) return false;
      }
      return (await this.masters()).length === 3;
    }, timeoutMs, 100);
  }

  live(): RedisNode[] {
    return this.nodes.filter((node) => node.process.exitCode === null && node.process.signalCode === null);
  }

  /** Ports of the connected masters that serve slots, as a live node sees them. */
  async masters(): Promise<number[]> {
    const text = await ask(this.live()[0]!.port, (client) => client.call('CLUSTER', 'NODES') as Promise<string>);
    return text.split('\n').filter((line) => /\bmaster\b/.test(line) && !/\bfail\b/.test(line) && /\bconnected\b/.test(line) && line.split(' ').length > 8)
      .map((line) => Number(/:(\d+)@/.exec(line)![1]));
  }

  /** `REDIS_CLUSTER_NODES` for Keyport: two of the six (the rest are discovered). */
  get env(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: this.nodes.slice(0, 2).map((node) => `127.0.0.1:${node.port}`).join(',') };
  }

  /** Kills (SIGKILL) the master that serves `slotOwnerOf` (a key, prefix included) and returns its port. */
  async killMasterOf(key: string): Promise<number> {
    const slot = (await ask(this.live()[0]!.port, (client) => client.call('CLUSTER', 'KEYSLOT', key))) as number;
    const text = await ask(this.live()[0]!.port, (client) => client.call('CLUSTER', 'NODES') as Promise<string>);
    const line = text.split('\n').find((entry) => /\bmaster\b/.test(entry) && entry.split(' ').slice(8).some((range) => {
      const [from, to] = range.split('-').map(Number);
      return from !== undefined && slot >= from && slot <= (to ?? from);
    }))!;
    const port = Number(/:(\d+)@/.exec(line)![1]);
    await this.group.kill(this.nodes.find((node) => node.port === port)!.process);
    return port;
  }
}
