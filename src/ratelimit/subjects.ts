import ipaddr from 'ipaddr.js';
import { BoundedCache } from '../lib/lru.js';

/** Buckets of recently seen addresses: a caller's address repeats from request to request. */
const recentBuckets = new BoundedCache<string, string>({ maxEntries: 10_000 });

/**
 * The bucket an address counts in. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4
 * address. IPv6 counts per /64: one host usually holds a whole /64, and per-address buckets
 * would let it rotate through 2^64 of them to escape per-IP limits.
 */
export function ipBucket(ip: string): string {
  // No address is longer than 45 characters (IPv4-mapped IPv6 with a zone aside): longer junk is not kept.
  if (ip.length > 64) return bucketOf(ip);
  let bucket = recentBuckets.get(ip);
  if (bucket === undefined) {
    bucket = bucketOf(ip);
    recentBuckets.set(ip, bucket);
  }
  return bucket;
}

function bucketOf(ip: string): string {
  try {
    const address = ipaddr.process(ip.trim());
    if (address.kind() === 'ipv4') return address.toString();
    const parts = (address as ipaddr.IPv6).parts.slice(0, 4);
    return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
  } catch {
    // Not an address (a test harness, a unix socket): count it verbatim, bounded in length.
    return ip.slice(0, 64) || 'unknown';
  }
}
