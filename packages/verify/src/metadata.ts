/** RFC 9728 §2: what a protected resource publishes about itself. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * RFC 9728 §3.1: the well-known segment goes between the host and the resource's path, so
 * `https://api.example.com/v1` publishes at `https://api.example.com/.well-known/oauth-protected-resource/v1`.
 */
export function protectedResourceMetadataPath(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${WELL_KNOWN}${path}`;
}

export function protectedResourceMetadataUrl(resource: string): string {
  return `${new URL(resource).origin}${protectedResourceMetadataPath(resource)}`;
}

export function protectedResourceMetadata(input: { resource: string; issuer: string; scopesSupported?: readonly string[]; resourceName?: string; resourceDocumentation?: string }): ProtectedResourceMetadata {
  return {
    resource: input.resource,
    authorization_servers: [input.issuer],
    bearer_methods_supported: ['header'],
    ...(input.scopesSupported?.length ? { scopes_supported: [...input.scopesSupported] } : {}),
    ...(input.resourceName ? { resource_name: input.resourceName } : {}),
    ...(input.resourceDocumentation ? { resource_documentation: input.resourceDocumentation } : {}),
  };
}
