import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { outputOf, privatePort, type ProcessGroup, waitFor } from './processes.js';

/** One mariadbd of the pair. */
export interface MariadbNode {
  readonly port: number;
  readonly process: ChildProcess;
  readonly url: string;
}

export async function query<T = unknown>(port: number, sql: string): Promise<T> {
  const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 2000 });
  try {
    const [rows] = await connection.query(sql);
    return rows as T;
  } finally {
    await connection.end();
  }
}

/**
 * A MariaDB primary and one replica on this host (Debian's mariadbd, private ports, a scratch
 * data directory each): binlog on the primary, `CHANGE MASTER TO` its current position on the
 * replica, as an operator sets one up. Small buffers: it is a test fixture, not a benchmark.
 */
export class MariadbReplication {
  private constructor(readonly primary: MariadbNode, readonly replica: MariadbNode, readonly database: string) {}

  /** An empty data directory (system tables only), copied for each server. */
  private static install(group: ProcessGroup): string {
    const template = join(group.dir, 'mariadb-template');
    const installed = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${template}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], { encoding: 'utf8', timeout: 60_000 });
    if (installed.status !== 0) throw new Error(`mariadb-install-db failed:\n${installed.stdout}\n${installed.stderr}`);
    return template;
  }

  /** One server alone (no binlog), e.g. to count the statements Keyport sends (bench/statements.ts). */
  static async startStandalone(group: ProcessGroup, database: string): Promise<MariadbNode> {
    const node = await MariadbReplication.startNode(group, MariadbReplication.install(group), 1, [], database);
    await query(node.port, `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    return node;
  }

  static async start(group: ProcessGroup, database = 'keyport_topology'): Promise<MariadbReplication> {
    const template = MariadbReplication.install(group);
    const primary = await MariadbReplication.startNode(group, template, 1, ['--log-bin=primary-bin', '--binlog-format=ROW'], database);
    const replica = await MariadbReplication.startNode(group, template, 2, ['--read-only=1', '--relay-log=replica-relay'], database);
    const [status] = await query<Array<{ File: string; Position: number }>>(primary.port, 'SHOW MASTER STATUS');
    await query(replica.port, `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=no, MASTER_LOG_FILE='${status!.File}', MASTER_LOG_POS=${status!.Position}, MASTER_CONNECT_RETRY=1`);
    await query(replica.port, 'START SLAVE');
    await query(primary.port, `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    const pair = new MariadbReplication(primary, replica, database);
    await waitFor('the replica to apply the primary\'s binlog', async () => (await query<unknown[]>(replica.port, `SHOW DATABASES LIKE '${database}'`)).length === 1, 20_000, 100);
    return pair;
  }

  private static async startNode(group: ProcessGroup, template: string, serverId: number, extra: readonly string[], database: string): Promise<MariadbNode> {
    const port = await privatePort();
    const datadir = join(group.dir, `mariadb-${port}`);
    const copied = spawnSync('cp', ['-a', template, datadir]);
    if (copied.status !== 0) throw new Error(`could not copy the data directory: ${copied.stderr}`);
    const child = group.start('mariadbd', [
      '--no-defaults', `--datadir=${datadir}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(group.dir, `mariadb-${port}.sock`)}`,
      `--pid-file=${join(group.dir, `mariadb-${port}.pid`)}`, '--user=root', `--server-id=${serverId}`, '--skip-name-resolve',
      '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M', '--max-connections=200', '--skip-log-error', ...extra,
    ]);
    try {
      await waitFor(`mariadbd on ${port}`, async () => (await query<unknown[]>(port, 'SELECT 1')).length === 1, 30_000, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${outputOf(child)}`);
    }
    return { port, process: child, url: `mysql://root@127.0.0.1:${port}/${database}` };
  }

  /** `SHOW SLAVE STATUS` on the replica. */
  async replicaStatus(): Promise<{ Slave_SQL_Running: string; Slave_IO_Running: string; Seconds_Behind_Master: number | null }> {
    const [row] = await query<Array<{ Slave_SQL_Running: string; Slave_IO_Running: string; Seconds_Behind_Master: number | null }>>(this.replica.port, 'SHOW SLAVE STATUS');
    return row!;
  }

  /** The replica keeps receiving the binlog but stops applying it: it falls behind. */
  async stopApplying(): Promise<void> {
    await query(this.replica.port, 'STOP SLAVE SQL_THREAD');
  }

  async resumeApplying(): Promise<void> {
    await query(this.replica.port, 'START SLAVE SQL_THREAD');
  }

  /** Waits until the replica has applied everything the primary wrote. */
  async caughtUp(timeoutMs: number): Promise<void> {
    await waitFor('the replica to catch up', async () => {
      const [primary] = await query<Array<{ File: string; Position: number }>>(this.primary.port, 'SHOW MASTER STATUS');
      const [replica] = await query<Array<{ Relay_Master_Log_File: string; Exec_Master_Log_Pos: number }>>(this.replica.port, 'SHOW SLAVE STATUS');
      return replica!.Relay_Master_Log_File === primary!.File && Number(replica!.Exec_Master_Log_Pos) === Number(primary!.Position);
    }, timeoutMs, 50);
  }

  /** A statement on the replica alone (root may write despite read_only): a marker only replica reads can see. */
  async onReplicaOnly(sql: string, values: unknown[] = []): Promise<void> {
    const connection = await mysql.createConnection({ host: '127.0.0.1', port: this.replica.port, user: 'root', database: this.database });
    try {
      await connection.query('SET SESSION sql_log_bin = 0');
      await connection.query(sql, values);
    } finally {
      await connection.end();
    }
  }
}
