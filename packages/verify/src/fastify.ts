import type { FastifyPluginAsync, onRequestHookHandler } from 'fastify';
import { METADATA_HEADERS, routeRequirement, verifierOf, type RequireArguments } from './adapter.js';
import type { KeyportAuth } from './claims.js';
import type { KeyportVerifier, VerifierOptions } from './verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by `require(…)` (from @keyport/verify); null on routes without it. */
    auth: KeyportAuth | null;
  }
}

export interface FastifyKeyport {
  readonly verifier: KeyportVerifier;
  /** Register once: declares `request.auth` and serves the RFC 9728 metadata document at `verifier.metadataPath`. */
  readonly plugin: FastifyPluginAsync;
  /** An `onRequest` hook that lets only requests with a valid token (and these scopes) through; sets `request.auth`. */
  require(...requirement: RequireArguments): onRequestHookHandler;
}

/**
 * Fastify adapter (runs as an `onRequest` hook: before the body is even read):
 *
 *     const auth = keyport({ issuer: 'https://keyport.example.com', resource: 'https://api.example.com' });
 *     await app.register(auth.plugin);
 *     app.get('/orders', { onRequest: auth.require('read') }, async (request) => ({ caller: request.auth!.sub }));
 */
export function keyport(options: VerifierOptions | KeyportVerifier): FastifyKeyport {
  const verifier = verifierOf(options);
  const plugin: FastifyPluginAsync = async function keyportPlugin(app) {
    app.decorateRequest('auth', null);
    app.get(verifier.metadataPath, async (_request, reply) => reply.headers(METADATA_HEADERS).send(verifier.metadata()));
  };
  // What fastify-plugin does: the decorator is visible to the routes of the app that registered it.
  Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@keyport/verify' });
  return {
    verifier,
    plugin,
    require(...requirement) {
      const route = routeRequirement(verifier, requirement);
      return async function keyportAuth(request, reply) {
        const outcome = await verifier.authenticate(request.headers.authorization, route, { method: request.method, url: `${request.protocol}://${request.host}${request.url.split('?')[0]}`, dpop: request.headers.dpop });
        if (!outcome.ok) {
          // An async hook that answers returns the reply (Fastify's rule for responding early).
          return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
        }
        request.auth = outcome.auth;
        return undefined;
      };
    },
  };
}

export type { KeyportAuth, KeyportVerifier, VerifierOptions };
