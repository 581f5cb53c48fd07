import { ConfigError } from './errors.js';
import { readList, readString, type Env } from './parse.js';

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Which Redis deployment Keyport talks to (docs/reference.md §1, docs/scaling.md):
 * - `standalone`: one server (or a proxy in front of several), `REDIS_URL`;
 * - `sentinel`: a master watched by Redis Sentinel, `REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`;
 *   the client asks the sentinels where the master is, and asks again after a failover;
 * - `cluster`: Redis Cluster, `REDIS_CLUSTER_NODES` (some of its nodes; the rest are discovered).
 */
export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'sentinel'; readonly sentinels: readonly RedisNodeAddress[]; readonly name: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNodeAddress[] };

/** `host:port` entries of a list variable (IPv6 hosts in brackets: `[::1]:26379`). */
function readAddresses(env: Env, name: string, defaultPort: number): RedisNodeAddress[] {
  return readList(env, name).map((entry) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
    if (!match || port < 1 || port > 65535) throw new ConfigError(name, `must list host:port entries separated by commas, got "${entry}"`);
    return Object.freeze({ host: (match[1] ?? match[2])!, port });
  });
}

/**
 * At most one of the three is set: a deployment is one of these, and a half-configured mix (a
 * URL left over next to sentinels) would otherwise silently pick one.
 */
export function readRedisTarget(env: Env): RedisTarget | undefined {
  const url = readString(env, 'REDIS_URL');
  const sentinels = readAddresses(env, 'REDIS_SENTINELS', 26379);
  const clusterNodes = readAddresses(env, 'REDIS_CLUSTER_NODES', 6379);
  const set = [url !== undefined && 'REDIS_URL', sentinels.length > 0 && 'REDIS_SENTINELS', clusterNodes.length > 0 && 'REDIS_CLUSTER_NODES'].filter(Boolean) as string[];
  if (set.length > 1) throw new ConfigError(set[1]!, `set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES (both ${set.join(' and ')} are set)`);
  const sentinelName = readString(env, 'REDIS_SENTINEL_NAME');
  if (sentinelName !== undefined && sentinels.length === 0) throw new ConfigError('REDIS_SENTINEL_NAME', 'is only used with REDIS_SENTINELS');
  if (sentinels.length > 0) {
    if (sentinelName === undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'must name the master the sentinels monitor (their `sentinel monitor <name> …`) when REDIS_SENTINELS is set');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(sentinelName)) throw new ConfigError('REDIS_SENTINEL_NAME', 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -');
    return Object.freeze({ kind: 'sentinel', sentinels: Object.freeze(sentinels), name: sentinelName });
  }
  if (clusterNodes.length > 0) return Object.freeze({ kind: 'cluster', nodes: Object.freeze(clusterNodes) });
  return url === undefined ? undefined : Object.freeze({ kind: 'standalone', url });
}

/** For logs: the kind and where, never credentials. */
export function describeRedisTarget(target: RedisTarget): string {
  switch (target.kind) {
    case 'standalone': {
      try {
        const url = new URL(target.url);
        return `standalone ${url.host}`;
      } catch {
        return 'standalone';
      }
    }
    case 'sentinel':
      return `sentinel ${target.name} via ${target.sentinels.map((node) => `${node.host}:${node.port}`).join(',')}`;
    case 'cluster':
      return `cluster via ${target.nodes.map((node) => `${node.host}:${node.port}`).join(',')}`;
  }
}
