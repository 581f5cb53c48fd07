import ipaddr from 'ipaddr.js';
import { InvalidRequest } from '../lib/errors.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Host names that always mean this machine (RFC 6761 §6.3). */
function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

/** The address a URL host names literally (`10.0.0.1`, `[fd00::1]`), if it is one. */
function literalAddress(host: string): Address | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return ipaddr.isValid(bare) ? ipaddr.process(bare) : undefined;
}

/**
 * Where Keyport itself may send requests on a client's behalf (a client's `jwks_uri`, fetched
 * by the engine for private_key_jwt): Keyport sits inside the operator's network, so a URL
 * pointing at the cloud metadata service (169.254.169.254), a private range or this machine would
 * let whoever registers a client make Keyport call internal services (SSRF).
 *
 * - https only; plain http only for this machine (loopback), and only outside production;
 * - the address must be public unicast: private, loopback, link-local, unique-local, CGNAT,
 *   reserved, multicast and the IPv6 ranges that embed an IPv4 address are refused, unless it
 *   lies in a range the operator allows (`CLIENT_URL_ALLOWED_CIDRS`, e.g. an internal key server);
 * - no user name or password in the URL.
 *
 * Checked at registration (literal addresses and loopback names) and again at every fetch on
 * the resolved addresses (see guarded_fetch.ts), since a public name can point anywhere.
 */
export class ClientUrlPolicy {
  private readonly allowed: ReadonlyArray<[Address, number]>;

  constructor(private readonly options: { production: boolean; allowedCidrs: readonly string[] }) {
    this.allowed = options.allowedCidrs.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  /** Why this address may not be fetched from; undefined when it may. */
  refusalForAddress(address: string, scheme: 'http:' | 'https:'): string | undefined {
    let parsed: Address;
    try {
      parsed = ipaddr.process(address);
    } catch {
      return `${address} is not an IP address`;
    }
    const range = parsed.range();
    const loopbackInDevelopment = range === 'loopback' && !this.options.production;
    if (scheme === 'http:' && !loopbackInDevelopment) return 'it must use https (plain http only reaches this machine, outside production)';
    if (range === 'unicast' || loopbackInDevelopment) return undefined;
    if (this.allowed.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits))) return undefined;
    return `${parsed.toString()} is a ${range} address (allow its range with CLIENT_URL_ALLOWED_CIDRS if it is meant)`;
  }

  /** Registration-time check of a URL Keyport will fetch; returns it, or throws invalid_request. */
  checkRegistration(uri: string, what: string): string {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new InvalidRequest(`${what} "${uri.slice(0, 200)}" is not an absolute URI.`);
    }
    const refuse = (reason: string): never => { throw new InvalidRequest(`${what} "${uri.slice(0, 200)}" is not allowed: ${reason}.`); };
    if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('it must use https');
    if (url.username || url.password) refuse('it must not carry a user name or password');
    const host = url.hostname.toLowerCase();
    const address = literalAddress(host) ?? (isLoopbackName(host) ? ipaddr.parse('127.0.0.1') : undefined);
    if (address) {
      const reason = this.refusalForAddress(address.toString(), url.protocol as 'http:' | 'https:');
      if (reason) refuse(reason);
    } else if (url.protocol === 'http:') {
      refuse('it must use https (plain http only reaches this machine, outside production)');
    }
    return uri;
  }
}
