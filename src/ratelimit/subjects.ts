import ipaddr from 'ipaddr.js';

/**
 * The bucket an address counts in. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4
 * address. IPv6 counts per /64: one host usually holds a whole /64, and per-address buckets
 * would let it rotate through 2^64 of them to escape per-IP limits.
 */
export function ipBucket(ip: string): string {
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
