import type { Provider } from './modules.js';

/**
 * Seam: `provider.registerGrantType` wrapped on the instance, to learn which grant types the engine
 * accepts (it keeps them in a private set). Call before anything registers a grant type.
 */
export function onGrantTypeRegistered(provider: Provider, registered: (name: string) => void): void {
  const register = provider.registerGrantType.bind(provider);
  provider.registerGrantType = ((name: string, ...rest: unknown[]) => {
    registered(name);
    return (register as (...args: unknown[]) => void)(name, ...rest);
  }) as Provider['registerGrantType'];
}
