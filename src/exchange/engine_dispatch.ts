import { postFormToEngine, type EngineAnswer, type EngineDispatchOrigin, type Provider } from '../oidc/engine/index.js';

export type { EngineAnswer };

export interface DispatchOrigin extends EngineDispatchOrigin {
  /**
   * The caller already passed the API-key checks of this use (allow list, rate limit) in front of
   * the engine: hooks inside it must not count the request a second time (see `apiKeyCheckedAhead`).
   */
  readonly apiKeyChecked?: boolean;
}

/** Requests dispatched with `apiKeyChecked`. */
const checkedAhead = new WeakSet<object>();
const markCheckedAhead = (req: object): void => {
  checkedAhead.add(req);
};

/** Whether the engine's current request came through `postToEngine` after Keyport checked the API key. */
export function apiKeyCheckedAhead(ctx: { req?: unknown } | undefined): boolean {
  return typeof ctx?.req === 'object' && ctx.req !== null && checkedAhead.has(ctx.req);
}

/**
 * Runs one form POST through the engine's own endpoint in-process, as if it had come over HTTP,
 * and returns its answer. `/auth/refresh` uses it so that refreshing there is exactly the engine's
 * refresh grant (rotation, reuse detection, the same hooks and events) and not a second copy of it.
 * The dispatch itself is the seam in oidc/engine/in_process_dispatch.ts.
 */
export function postToEngine(provider: Provider, path: string, form: Record<string, string>, origin: DispatchOrigin): Promise<EngineAnswer> {
  return postFormToEngine(provider, path, form, origin, origin.apiKeyChecked ? markCheckedAhead : undefined);
}
