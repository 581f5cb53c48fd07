import type { Middleware } from 'koa';
import { METADATA_HEADERS, routeRequirement, verifierOf, type RequireArguments } from './adapter.js';
import type { KeyportAuth } from './claims.js';
import type { KeyportVerifier, VerifierOptions } from './verifier.js';

declare module 'koa' {
  interface DefaultState {
    /** The caller, set by `require(…)` (from @keyport/verify). */
    auth?: KeyportAuth;
  }
}

export interface KoaKeyport {
  readonly verifier: KeyportVerifier;
  /** Middleware that lets only requests with a valid token (and these scopes) through; sets `ctx.state.auth`. */
  require(...requirement: RequireArguments): Middleware;
  /** Middleware that serves the RFC 9728 metadata document at `verifier.metadataPath` and passes everything else on. */
  metadata(): Middleware;
}

/**
 * Koa adapter:
 *
 *     const auth = keyport({ issuer: 'https://keyport.example.com', resource: 'https://api.example.com' });
 *     app.use(auth.metadata());
 *     router.get('/orders', auth.require('read'), (ctx) => { ctx.body = { caller: ctx.state.auth!.sub }; });
 */
export function keyport(options: VerifierOptions | KeyportVerifier): KoaKeyport {
  const verifier = verifierOf(options);
  return {
    verifier,
    require(...requirement) {
      const route = routeRequirement(verifier, requirement);
      return async function keyportAuth(ctx, next) {
        const outcome = await verifier.authenticate(ctx.headers.authorization, route, { method: ctx.method, url: `${ctx.protocol}://${ctx.host}${ctx.path}`, dpop: ctx.headers.dpop });
        if (!outcome.ok) {
          ctx.status = outcome.status;
          ctx.set(outcome.headers);
          ctx.body = outcome.body;
          return;
        }
        ctx.state.auth = outcome.auth;
        await next();
      };
    },
    metadata() {
      return async function keyportMetadata(ctx, next) {
        if (ctx.path !== verifier.metadataPath || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
        ctx.set(METADATA_HEADERS);
        ctx.body = verifier.metadata();
        return undefined;
      };
    },
  };
}

export type { KeyportAuth, KeyportVerifier, VerifierOptions };
