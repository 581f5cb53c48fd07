import type { RequestHandler } from 'express';
import { METADATA_HEADERS, routeRequirement, verifierOf, type RequireArguments } from './adapter.js';
import type { KeyportAuth } from './claims.js';
import type { KeyportVerifier, VerifierOptions } from './verifier.js';

declare global {
  namespace Express {
    interface Request {
      /** The caller, set by `require(…)` (from @keyport/verify). */
      auth?: KeyportAuth;
    }
  }
}

export interface ExpressKeyport {
  readonly verifier: KeyportVerifier;
  /** Middleware that lets only requests with a valid token (and these scopes) through; sets `req.auth`. */
  require(...requirement: RequireArguments): RequestHandler;
  /** Middleware that serves the RFC 9728 metadata document at `verifier.metadataPath` and passes everything else on. */
  metadata(): RequestHandler;
}

/**
 * Express adapter:
 *
 *     const auth = keyport({ issuer: 'https://keyport.example.com', resource: 'https://api.example.com' });
 *     app.use(auth.metadata());
 *     app.get('/orders', auth.require('read'), (req, res) => res.json({ caller: req.auth!.sub }));
 */
export function keyport(options: VerifierOptions | KeyportVerifier): ExpressKeyport {
  const verifier = verifierOf(options);
  return {
    verifier,
    require(...requirement) {
      const route = routeRequirement(verifier, requirement);
      return function keyportAuth(req, res, next) {
        verifier.authenticate(req.headers.authorization, route, { method: req.method, url: `${req.protocol}://${req.get('host') ?? ''}${req.originalUrl.split('?')[0]}`, dpop: req.headers.dpop }).then((outcome) => {
          if (!outcome.ok) {
            res.status(outcome.status).set(outcome.headers).json(outcome.body);
            return;
          }
          req.auth = outcome.auth;
          next();
        }, next);
      };
    },
    metadata() {
      return function keyportMetadata(req, res, next) {
        if (req.path !== verifier.metadataPath || (req.method !== 'GET' && req.method !== 'HEAD')) {
          next();
          return;
        }
        res.set(METADATA_HEADERS).json(verifier.metadata());
      };
    },
  };
}

export type { KeyportAuth, KeyportVerifier, VerifierOptions };
