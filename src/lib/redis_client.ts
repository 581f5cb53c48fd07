import type { Cluster, Redis } from 'ioredis';

// The client type alone, apart from src/lib/redis.ts (which builds clients and the bus), so that the
// bus and the stores can name it without importing the module that imports them.

/**
 * A client of any supported deployment (docs/scaling.md): one server or a Sentinel-watched master
 * (`Redis`), or Redis Cluster (`Cluster`). On a cluster Keyport only sends commands that touch
 * one key each (rate-limit counters: one Lua call per key there, one per request elsewhere) and
 * classic pub/sub, so the same calls work on all three without hash tags; see docs/scaling.md
 * "Keys and channels on a cluster".
 */
export type RedisClient = Redis | Cluster;
