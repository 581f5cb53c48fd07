/**
 * @keyport/verify: verify Keyport access tokens in an API (framework-free core). Adapters:
 * `@keyport/verify/koa`, `/express`, `/fastify`; token helper for agents and scripts: `/caller`.
 */
export { createVerifier, KeyportVerifier, type AuthOutcome, type AuthRefusal, type RequestInfo, type RouteRequirement, type VerifierOptions } from './verifier.js';
export { BoundedReplayCache, type DpopOptions, type ReplayCache } from './dpop.js';
export type { KeyportAuth } from './claims.js';
export { AuthFailure, bearerChallenge, type AuthErrorCode } from './challenge.js';
export type { IntrospectionOptions } from './introspection.js';
export { protectedResourceMetadata, protectedResourceMetadataPath, protectedResourceMetadataUrl, type ProtectedResourceMetadata } from './metadata.js';
export type { CircuitState } from './circuit_breaker.js';
