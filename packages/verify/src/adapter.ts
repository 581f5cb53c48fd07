import { KeyportVerifier, type RouteRequirement, type VerifierOptions } from './verifier.js';

/** `require('read', 'write')` or `require({ scopes: ['write'], introspect: true })`. */
export type RequireArguments = [RouteRequirement] | string[];

export function verifierOf(input: VerifierOptions | KeyportVerifier): KeyportVerifier {
  return input instanceof KeyportVerifier ? input : new KeyportVerifier(input);
}

/** Normalised and checked when the route is declared, so a typo in a scope stops the API at start. */
export function routeRequirement(verifier: KeyportVerifier, args: RequireArguments): Required<RouteRequirement> {
  const [first] = args;
  if (typeof first === 'object' && first !== null) return verifier.requirement(first);
  return verifier.requirement(args as string[]);
}

/** Headers of the metadata document: public, cacheable, readable from any origin (browser-based MCP clients fetch it). */
export const METADATA_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'public, max-age=3600',
  'access-control-allow-origin': '*',
};
