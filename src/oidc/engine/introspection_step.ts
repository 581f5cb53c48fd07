import { introspectionSteps, type EngineStep } from './modules.js';

/**
 * Seam: one entry of the engine's introspection step array (lib/actions/introspection.js) is
 * replaced. Every Provider spreads that array into its router when it is constructed
 * (lib/helpers/initialize_app.js), so a replacement made before the first provider is built is
 * what every provider runs.
 *
 * The replaced entry is `rejectStructuredTokens` (lib/shared/reject_structured_tokens.js), which
 * sits after client authentication, duplicate and presence checks and throws UnsupportedTokenType
 * for a JWT. What Keyport does in its place is decided in ../structured_tokens.ts: it is the
 * engine's only way to answer a JWT at its introspection endpoint (there is no fallback), so
 * the replacement is installed unconditionally and fails loudly when the step is gone.
 */

/** The name of the engine's step that is replaced. */
export const STRUCTURED_TOKEN_STEP = 'rejectStructuredTokens';

/** A replacement step; `engineStep` is the engine's own step, for requests the replacement leaves to it. */
export type StructuredTokenStep = (ctx: Parameters<EngineStep>[0], next: Parameters<EngineStep>[1], engineStep: EngineStep) => Promise<void> | void;

let installed: { engineStep: EngineStep } | undefined;
let missing = false;

/**
 * Puts `step` in place of the engine's `rejectStructuredTokens` step (once per process; later calls
 * return the first answer). Returns false, replacing nothing, when the engine has no such step.
 * The replacement function keeps its own name (the contract test and a security test look for it).
 */
export function replaceStructuredTokenStep(name: string, step: StructuredTokenStep): boolean {
  if (installed) return true;
  if (missing) return false;
  const index = introspectionSteps.findIndex((entry) => typeof entry === 'function' && entry.name === STRUCTURED_TOKEN_STEP);
  if (index === -1) {
    missing = true;
    return false;
  }
  const engineStep = introspectionSteps[index]!;
  const replacement: EngineStep = (ctx, next) => step(ctx, next, engineStep);
  Object.defineProperty(replacement, 'name', { value: name });
  introspectionSteps[index] = replacement;
  installed = { engineStep };
  return true;
}

/** The names of the engine's introspection steps as providers built now would run them (for tests). */
export function introspectionStepNames(): string[] {
  return introspectionSteps.map((step) => step.name);
}

/** The engine's own step while replaced, for the contract test; undefined before the replacement. */
export function replacedEngineStep(): EngineStep | undefined {
  return installed?.engineStep;
}
