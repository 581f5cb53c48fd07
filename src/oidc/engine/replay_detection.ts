import type { Provider } from './modules.js';

/**
 * Seam: the engine's one-time-use check (`provider.ReplayDetection.unique(iss, jti, exp)`, used
 * for DPoP proofs in lib/helpers/validate_dpop.js and client-assertion jtis in
 * lib/shared/client_auth.js) is replaced by Keyport's atomic one (../proof_replay.ts). The engine's
 * own reads the record, then writes it, so two instances presenting the same proof at once both
 * pass. `exp` is epoch seconds.
 */
export type UniqueCheck = (iss: string, jti: string, exp: number) => Promise<boolean>;

interface ReplayDetectionModel {
  unique: UniqueCheck;
}

export function replaceReplayDetection(provider: Provider, unique: UniqueCheck): void {
  const model = (provider as unknown as { ReplayDetection?: ReplayDetectionModel }).ReplayDetection;
  if (!model || typeof model.unique !== 'function') {
    throw new Error('oidc-provider moved ReplayDetection.unique: seam in src/oidc/engine/replay_detection.ts must be updated');
  }
  Object.defineProperty(model, 'unique', { value: unique, configurable: true, writable: true });
}
