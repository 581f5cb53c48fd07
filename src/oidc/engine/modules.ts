/**
 * The deep imports of oidc-provider (typed in engine_modules.d.ts). Only files in this folder
 * import this module; everything else imports the engine through ./index.ts.
 *
 * The package entry (oidc-provider/lib/index.js) adds nothing but a runtime check that prints
 * "Unsupported runtime. Use Node.js v22.x LTS" on Node 20, which Keyport supports (docs/reference.md §1) and
 * which oidc-provider runs on. Loading the Provider class and the error classes from their own
 * modules skips that single line; every other engine warning still reaches stderr.
 */
import type * as Engine from 'oidc-provider';
import type { AsyncLocalStorage } from 'node:async_hooks';
import introspectionAction from 'oidc-provider/lib/actions/introspection.js';
import engineRequestStorage from 'oidc-provider/lib/helpers/als.js';
import * as errorModule from 'oidc-provider/lib/helpers/errors.js';
import { ExternalSigningKey as ExternalSigningKeyClass } from 'oidc-provider/lib/helpers/keystore.js';
import { Provider as ProviderClass } from 'oidc-provider/lib/provider.js';

export const Provider = ProviderClass as typeof Engine.Provider;
export type Provider = Engine.Provider;

/** The engine's error classes (InvalidGrant, InvalidTarget, …), each rendering an RFC 6749 error. */
export const errors = errorModule as unknown as typeof Engine.errors;

/**
 * A signing key the engine calls to sign instead of holding the private JWK
 * (`features.externalSigningSupport`); see external_signing_key.ts.
 */
export const ExternalSigningKey = ExternalSigningKeyClass as typeof Engine.ExternalSigningKey;
export type ExternalSigningKey = Engine.ExternalSigningKey;

/**
 * The engine's request context: one AsyncLocalStorage for every Provider of the process, run
 * around each engine request (lib/helpers/initialize_app.js) and read as `Provider.ctx` and by its
 * token formats. See request_context.ts.
 */
export const requestStorage = engineRequestStorage as AsyncLocalStorage<unknown>;

/** A step (koa middleware) of one of the engine's endpoints. */
export type EngineStep = (ctx: Engine.KoaContextWithOIDC, next: () => Promise<void>) => Promise<void> | void;

/**
 * The steps of the engine's introspection endpoint, as the array every Provider spreads into its
 * router when it is constructed (lib/helpers/initialize_app.js). See introspection_step.ts.
 */
export const introspectionSteps = introspectionAction as EngineStep[];

export type {
  Account,
  AccessToken,
  AdapterPayload,
  Adapter,
  Client as EngineClient,
  ClientCredentials,
  ClientMetadata,
  Configuration,
  Grant,
  Interaction,
  JWK,
  KoaContextWithOIDC,
  RefreshToken,
  ResourceServer as ResourceServerInfo,
  TokenEndpointGrantContext,
  UnknownObject,
} from 'oidc-provider';
