import type { EngineClient, Provider } from './modules.js';

/**
 * Seam: the engine's client model, patched per provider.
 *
 * - `provider.Client.find` (lib/models/client.js, a static of the per-provider Client class; the
 *   engine calls it for client authentication and everywhere else it needs a client) is replaced by
 *   a wrapper that may answer itself or call the previous `find`.
 * - `Client.prototype.compareClientSecret(actual)` (called by lib/shared/client_auth.js for
 *   client_secret_basic/post) is replaced, so that a stored keyed hash is compared.
 * - `checkClientSecretExpiration` and `compareClientSecret` are called directly by the
 *   introspection fast path (authenticateWithSecret), as the engine's client authentication does.
 *
 * Wrappers stack: the one installed last runs first.
 */

/** The lookup a wrapper replaces: the engine's own, or the wrapper installed before. */
export type ClientFind = (id: string) => Promise<EngineClient | undefined>;

/** Wraps `provider.Client.find`; `lookup` decides whether to call `find` (the previous lookup). */
export function wrapClientFind(provider: Provider, lookup: (id: string, find: ClientFind) => Promise<EngineClient | undefined>): void {
  const { Client } = provider;
  const find: ClientFind = Client.find.bind(Client);
  Client.find = function findThroughKeyport(id: string): Promise<EngineClient | undefined> {
    return lookup(id, find);
  };
}

/** The methods of the engine's Client instances this seam calls or replaces (not in the engine's typings). */
interface ClientSecretMethods {
  clientSecret?: string;
  compareClientSecret(actual: string): Promise<boolean> | boolean;
  checkClientSecretExpiration(message: string, errorOverride?: string): void;
}

/**
 * Replaces the engine's constant-time comparison of a presented client secret with `matches`
 * (stored `client_secret` metadata, presented secret).
 */
export function replaceClientSecretComparison(provider: Provider, matches: (stored: string | undefined, actual: string) => boolean): void {
  const prototype = provider.Client.prototype as unknown as ClientSecretMethods;
  prototype.compareClientSecret = function compareClientSecret(this: ClientSecretMethods, actual: string): boolean {
    return matches(this.clientSecret, actual);
  };
}

/**
 * The engine's client_secret_basic/post authentication of `clientId` with `secret`, outside a
 * request: the client through `Client.find`, its registered method, secret expiry, the secret
 * comparison. Undefined whenever the engine would not authenticate the client this way.
 */
export async function authenticateWithSecret(provider: Provider, clientId: string, secret: string): Promise<EngineClient | undefined> {
  const client = await provider.Client.find(clientId);
  if (!client) return undefined;
  if (client.clientAuthMethod !== 'client_secret_basic' && client.clientAuthMethod !== 'client_secret_post') return undefined;
  const methods = client as unknown as ClientSecretMethods;
  try {
    methods.checkClientSecretExpiration('expired');
  } catch {
    return undefined;
  }
  return (await methods.compareClientSecret(secret)) ? client : undefined;
}
