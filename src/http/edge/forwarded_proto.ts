import type { TLSSocket } from 'node:tls';
import type Koa from 'koa';

/**
 * With TRUST_PROXY, the request's protocol (`ctx.protocol`, hence `ctx.secure`, REQUIRE_HTTPS,
 * Secure cookies, HSTS) comes from `X-Forwarded-Proto`. koa reads its leftmost value, which is
 * whatever the caller sent when a proxy appends rather than replaces: `X-Forwarded-Proto: https`
 * sent over plain HTTP through such a proxy arrives as `https, http` and passed as HTTPS. Like the
 * client address (koa's `maxIpsCount`), only the values our own proxies appended are believed:
 * the rightmost `hops` entries, of which the leftmost is what the outermost trusted proxy saw.
 * Installed on the app's request prototype, so the engine (which runs on Keyport's context) reads
 * the same answer.
 */
export function trustForwardedProtoOfOwnProxies<State, Context>(app: Koa<State, Context>, hops: number): void {
  Object.defineProperty(app.request, 'protocol', {
    configurable: true,
    enumerable: true,
    get(this: Koa.Request): string {
      if ((this.socket as TLSSocket).encrypted) return 'https';
      if (!this.app.proxy) return 'http';
      const header = this.get('X-Forwarded-Proto');
      if (!header) return 'http';
      const appended = header.split(',').slice(-hops)[0]?.trim().toLowerCase();
      return appended || 'http';
    },
  });
}
