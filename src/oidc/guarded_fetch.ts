import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';
import type { ClientUrlPolicy } from '../clients/url_policy.js';

/** `dns.lookup`'s callback form, injectable so tests can make a public name point anywhere. */
export type Resolve = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolve: Resolve = (hostname, options, callback) => dnsLookup(hostname, options, callback);

/** Statuses whose response has no body (a Response refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

function toResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const status = res.statusCode ?? 502;
  const body = NULL_BODY_STATUSES.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  if (body === null) res.resume();
  return new Response(body, { status, headers });
}

/**
 * The engine's outgoing requests (oidc-provider's `fetch` setting: a client's jwks_uri for
 * private_key_jwt), with ClientUrlPolicy applied to the address actually connected to: the name
 * is resolved here and every address it resolves to must be allowed, and the socket connects to
 * the checked address (no second lookup an attacker's DNS could answer differently). A URL that
 * names an address is checked as it is. Redirects are not followed (the engine then sees a
 * non-200 and refuses the keys), so a public URL cannot bounce the request inside.
 *
 * Replaces the engine's own special-use-address guard (`options.dispatcher`), which knows
 * nothing of the operator's allowed ranges or of plain http to loopback in development.
 */
export function guardedFetch(policy: ClientUrlPolicy, resolve: Resolve = systemResolve, extraCa?: string): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  // CLIENT_URL_CA_FILE: trusted besides the usual roots (an internal CA), not instead of them.
  const ca = extraCa ? [...rootCertificates, extraCa] : undefined;
  return (input, init = {}) => new Promise<Response>((settle, fail) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      fail(new Error(`refusing to fetch ${url.protocol} URLs`));
      return;
    }
    const scheme = url.protocol;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host)) {
      const reason = policy.refusalForAddress(host, scheme);
      if (reason) {
        fail(new Error(`refusing to fetch ${url.origin}: ${reason}`));
        return;
      }
    }
    const lookup = (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: (...args: unknown[]) => void): void => {
      resolve(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err);
        if (addresses.length === 0) return callback(new Error(`${hostname} does not resolve`));
        for (const { address } of addresses) {
          const reason = policy.refusalForAddress(address, scheme);
          if (reason) return callback(Object.assign(new Error(`refusing to fetch ${url.origin}: ${hostname} resolves to ${address}; ${reason}`), { code: 'EADDRNOTALLOWED' }));
        }
        if (options.all) return callback(null, addresses);
        return callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
    const headers = Object.fromEntries(new Headers(init.headers));
    const send = scheme === 'https:' ? httpsRequest : httpRequest;
    // No pooled connections: every request connects, so every request is looked up and checked.
    const request = send(url, { method: init.method ?? 'GET', headers, lookup: lookup as never, agent: false, signal: init.signal ?? undefined, ...(ca && scheme === 'https:' ? { ca } : {}) }, (res) => settle(toResponse(res)));
    request.on('error', fail);
    if (typeof init.body === 'string') request.end(init.body);
    else request.end();
  });
}
