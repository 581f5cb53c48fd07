/**
 * The engine (oidc-provider, pinned to an exact version in package.json) as the rest of Keyport
 * sees it. This folder is the only place that imports oidc-provider's internals
 * (`oidc-provider/lib/...`, modules.ts) or patches engine objects; everything else imports from
 * here: the Provider class, its error classes and types, and one small function per seam.
 *
 * Seams (each file says what of the engine it relies on; test/oidc/engine/contract.test.ts fails
 * with the seam's name when an engine upgrade moves it):
 *
 * - modules.ts               deep imports: Provider, errors, ExternalSigningKey, the introspection steps
 * - introspection_step.ts    an entry of the introspection step array replaced (`rejectStructuredTokens`):
 *                            Keyport's answer to every JWT introspection the engine runs
 * - introspection_answer.ts  a copy of the engine's introspection answer (the fast path answers with it)
 * - body_replay.ts           `req.readable`/`req.iterator` redefined to hand a read body back to the engine
 * - in_process_dispatch.ts   a form POST through `provider.callback()` in-process (hand-made request: light-my-request measured 2× slower)
 * - client_lookup.ts         `Client.find` wrapped, `compareClientSecret` replaced, secret authentication
 * - mount.ts                 the engine's koa stack run on Keyport's context (koa-compose)
 * - grant_types.ts           `registerGrantType` wrapped to learn the registered grant types
 * - external_signing_key.ts  `ExternalSigningKey` subclassed through its untyped setters
 * - resume_query.ts          the resume route's query dropped (engine 500 workaround)
 * - device_forms.ts         the hidden fields of the engine's device-flow forms (Keyport renders its own pages)
 * - unsaved_session.ts      the engine's 500 on a device form posted without a live session, recognised (engine bug workaround)
 * - replay_detection.ts      `ReplayDetection.unique` replaced by Keyport's atomic one-time-use check (DPoP proofs, client assertions)
 * - clients_without_registration.ts  metadata-document clients' marker and feature ack; the stored
 *                            shape of initial access tokens (issued without the engine)
 * - request_context.ts      the engine's AsyncLocalStorage `run` wrapped: the storage is off while no
 *                            engine request runs (on Node 20 it costs a hook on every promise of the process)
 * - self_check.ts            what the contract test inspects of the installed engine (not used at run time)
 *
 * Introspection has one path through these seams: `POST /oauth/introspect` meets Keyport's fast
 * path first (../introspection_fast_path.ts: secret-authenticated caller, active token; it uses
 * body_replay, client_lookup's authenticateWithSecret and introspection_answer), and whatever it
 * leaves goes, body handed back, through the engine's own steps, where introspection_step puts
 * Keyport's answer for JWTs (../structured_tokens.ts). Both answer through AccessTokenService; no
 * engine error event is involved (revocation of JWTs still is, see ../structured_tokens.ts).
 *
 * What Keyport decides (which JWTs are active, who may introspect, rate limits, which client rows
 * are reused) stays outside this folder and calls these functions.
 */
export {
  Provider,
  errors,
  ExternalSigningKey,
  type EngineStep,
  type Account,
  type AccessToken,
  type AdapterPayload,
  type Adapter,
  type EngineClient,
  type ClientCredentials,
  type ClientMetadata,
  type Configuration,
  type Grant,
  type Interaction,
  type JWK,
  type KoaContextWithOIDC,
  type RefreshToken,
  type ResourceServerInfo,
  type TokenEndpointGrantContext,
  type UnknownObject,
} from './modules.js';
export { ReplayableBody } from './body_replay.js';
export { CLIENT_ID_METADATA_DOCUMENT_ACK, INITIAL_ACCESS_TOKEN_MODEL, initialAccessTokenPayload, isMetadataDocumentClient } from './clients_without_registration.js';
export { authenticateWithSecret, replaceClientSecretComparison, wrapClientFind, type ClientFind } from './client_lookup.js';
export { KeyportSigningKey } from './external_signing_key.js';
export { onGrantTypeRegistered } from './grant_types.js';
export { postFormToEngine, type EngineAnswer, type EngineDispatchOrigin } from './in_process_dispatch.js';
export { engineIntrospectionAnswer } from './introspection_answer.js';
export { introspectionStepNames, replacedEngineStep, replaceStructuredTokenStep, STRUCTURED_TOKEN_STEP, type StructuredTokenStep } from './introspection_step.js';
export { engineStack, type EngineStack } from './mount.js';
export { switchRequestContextOffWhenIdle } from './request_context.js';
export { ignoreQueryOnResume } from './resume_query.js';
export { replaceReplayDetection, type UniqueCheck } from './replay_detection.js';
export { hiddenFieldsOf, type HiddenField } from './device_forms.js';
export { isUnsavedSessionFailure } from './unsaved_session.js';
/** For test/oidc/engine/contract.test.ts only. */
export * as engineSelfCheck from './self_check.js';
