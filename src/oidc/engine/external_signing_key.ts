import { ExternalSigningKey } from './modules.js';

/**
 * Seam: a subclass of the engine's `ExternalSigningKey` (lib/helpers/keystore.js,
 * `features.externalSigningSupport`) that sets `kid` and `alg` through the class's setters, which
 * the engine's typings do not declare (only the getters).
 */
export abstract class KeyportSigningKey extends ExternalSigningKey {
  constructor(kid: string, alg: string) {
    super();
    Object.assign(this, { kid, alg });
  }
}
