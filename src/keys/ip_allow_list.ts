import ipaddr from 'ipaddr.js';
import { InvalidRequest } from '../lib/errors.js';

/** Enough for any sane network layout; keeps every verification's scan short. */
export const MAX_ALLOW_LIST_ENTRIES = 100;

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

/**
 * Parses one allow-list entry: an IPv4 address in four-part decimal, an IPv6 address, or either
 * as a CIDR range. Loose IPv4 spellings (`127.1`, `0x7f.1`) are refused: they read as typos.
 */
function parseEntry(entry: string): Range | undefined {
  const text = entry.trim();
  const [address, bits, extra] = text.split('/');
  if (extra !== undefined || !address) return undefined;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  let parsed: Address;
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) parsed = ipaddr.IPv4.parse(address);
  else if (ipaddr.IPv6.isValid(address) && !address.includes('%')) parsed = ipaddr.IPv6.parse(address);
  else return undefined;
  const max = parsed.kind() === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  // An IPv4-mapped IPv6 entry (::ffff:10.0.0.1) means the IPv4 address: callers are compared as IPv4.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    return [(parsed as ipaddr.IPv6).toIPv4Address(), prefix - 96];
  }
  return [parsed, prefix];
}

function canonical([address, prefix]: Range): string {
  const max = address.kind() === 'ipv4' ? 32 : 128;
  // Host bits are cleared so `10.1.2.3/8` is stored as the range it matches: `10.0.0.0/8`.
  const network = prefix === max ? address : ipaddr.fromByteArray(maskBytes(address.toByteArray(), prefix));
  const text = network.kind() === 'ipv6' ? (network as ipaddr.IPv6).toRFC5952String() : network.toString();
  return prefix === max ? text : `${text}/${prefix}`;
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((byte, index) => {
    const keep = Math.max(0, Math.min(8, prefix - index * 8));
    return byte & (0xff << (8 - keep)) & 0xff;
  });
}

/**
 * Validates and canonicalises an allow list (a list, or one comma-separated string). An empty
 * list means "anywhere" and is stored as null. Bad entries are a 400 naming the entry.
 */
export function normalizeAllowList(entries: readonly string[] | string | undefined | null): string[] | null {
  if (entries === undefined || entries === null) return null;
  const items = (typeof entries === 'string' ? entries.split(',') : entries).map((item) => (typeof item === 'string' ? item.trim() : item)).filter((item) => item !== '');
  if (items.length === 0) return null;
  if (items.length > MAX_ALLOW_LIST_ENTRIES) throw new InvalidRequest(`ip allow list: at most ${MAX_ALLOW_LIST_ENTRIES} entries.`);
  const result: string[] = [];
  for (const item of items) {
    const range = typeof item === 'string' && item.length <= 64 ? parseEntry(item) : undefined;
    if (!range) throw new InvalidRequest(`ip allow list: "${String(item).slice(0, 64)}" is not an IPv4/IPv6 address or CIDR range.`);
    const text = canonical(range);
    if (!result.includes(text)) result.push(text);
  }
  return result;
}

/** A compiled allow list: parsed once per cached key, so each verification is a few integer compares. */
export class IpAllowList {
  private constructor(private readonly ranges: readonly Range[]) {}

  static compile(entries: readonly string[] | null): IpAllowList | null {
    if (!entries || entries.length === 0) return null;
    return new IpAllowList(entries.map((entry) => parseEntry(entry)).filter((range): range is Range => range !== undefined));
  }

  /** False for anything that is not an address (e.g. garbage in a trusted X-Forwarded-For). */
  allows(ip: string | undefined): boolean {
    if (!ip) return false;
    let caller: Address;
    try {
      // process() turns ::ffff:1.2.3.4 (IPv4 over a dual-stack socket) into 1.2.3.4.
      caller = ipaddr.process(ip.trim());
    } catch {
      return false;
    }
    return this.ranges.some(([network, prefix]) => network.kind() === caller.kind() && caller.match(network, prefix));
  }
}
