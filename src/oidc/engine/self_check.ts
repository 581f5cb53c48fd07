import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { introspectionSteps, requestStorage, type EngineStep } from './modules.js';

/**
 * What test/oidc/engine/contract.test.ts inspects of the installed engine, so that the test does
 * not import engine internals itself. Not used at run time.
 */

/** The engine's modules the seams of this folder rely on, relative to its `lib/`. */
export const ENGINE_LIB_MODULES = [
  'provider.js',
  'helpers/errors.js',
  'helpers/keystore.js',
  'helpers/als.js',
  'helpers/initialize_app.js',
  'actions/introspection.js',
  'shared/selective_body.js',
  'shared/reject_structured_tokens.js',
  'shared/authorization_error_handler.js',
] as const;

const LIB = 'oidc-provider/lib/';

/** The file of one of the engine's lib modules (throws when it does not resolve). */
export function engineLibFile(path: string): string {
  return fileURLToPath(import.meta.resolve(`${LIB}${path}`));
}

/** The source text of one of the engine's lib modules. */
export function engineLibSource(path: string): string {
  return readFileSync(engineLibFile(path), 'utf8');
}

/** The installed engine's version (its package.json). */
export function installedEngineVersion(): string {
  const entry = engineLibFile('provider.js');
  const root = entry.slice(0, entry.lastIndexOf('/lib/'));
  return (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }).version;
}

/** The engine's introspection step array as it is now (entries may have been replaced). */
export function currentIntrospectionSteps(): readonly EngineStep[] {
  return introspectionSteps;
}

/**
 * Whether the engine's request context (request_context.ts) is enabled now, where Node says: its
 * async_hooks implementation (Node 20, 22) keeps an `enabled` flag on the instance; the one of
 * Node 24 (AsyncContextFrame, no hook to switch off) has none, and this is undefined there.
 */
export function requestContextEnabled(): boolean | undefined {
  const { enabled } = requestStorage as unknown as { enabled?: unknown };
  return typeof enabled === 'boolean' ? enabled : undefined;
}
