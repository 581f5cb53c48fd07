import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
/** `st` of a listening socket in /proc/net/tcp and tcp6. */
const TCP_LISTEN = '0A';

/** Inodes of the sockets listening on `port` (any local address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== TCP_LISTEN) continue;
      const localPort = Number.parseInt(fields[1]!.split(':')[1] ?? '', 16);
      if (localPort === port) inodes.add(fields[9]!);
    }
  }
  return inodes;
}

/**
 * The process on this machine that listens on `port`: the one holding one of its listening sockets
 * open. Undefined when none is found (not Linux, another user's process this one may not inspect, a
 * server behind a proxy or in a VM).
 *
 * Why by port and not by name: a machine may run several MariaDB servers at once (CI's topology
 * tests start private ones beside the shared one), and only the one the bench talks to counts.
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  const sockets = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (sockets.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        // The fd closed between the listing and the read.
      }
    }
  }
  return undefined;
}

/**
 * The pid of the MySQL/MariaDB server of a `mysql://` URL when it runs on this machine (a loopback
 * host), so the bench can count its CPU time per request too; undefined for a remote one.
 */
export function localMysqlServerPid(mysqlUrl: string): number | undefined {
  let url: URL;
  try {
    url = new URL(mysqlUrl);
  } catch {
    return undefined;
  }
  if (!LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return pidListeningOn(Number(url.port || 3306));
}
