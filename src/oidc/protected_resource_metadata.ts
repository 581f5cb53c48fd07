import type { ResourceServerPolicy } from './resource_servers.js';

/**
 * RFC 9728 protected-resource metadata for a registered audience, as the resource (an MCP server,
 * an API) should serve it: MCP clients start there to find Keyport (docs/oauth.md "MCP servers").
 * The resource-server kit (`@keyport/verify`, `metadata()`) serves the same document; this is
 * what `keyport resource:metadata` and `GET /admin/resource-servers/metadata` print.
 */
export interface ProtectedResourceDocument {
  /** Where the resource serves the document (RFC 9728 §3.1: the well-known segment before the resource's path). */
  readonly url: string;
  readonly document: {
    readonly resource: string;
    readonly authorization_servers: readonly string[];
    readonly bearer_methods_supported: readonly string[];
    readonly scopes_supported?: readonly string[];
  };
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

export function protectedResourceDocument(policy: Pick<ResourceServerPolicy, 'audience' | 'scopes'>, issuer: string): ProtectedResourceDocument {
  const resource = new URL(policy.audience);
  const path = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  return {
    url: `${resource.origin}${WELL_KNOWN}${path}`,
    document: {
      resource: policy.audience,
      authorization_servers: [issuer],
      bearer_methods_supported: ['header'],
      ...(policy.scopes?.length ? { scopes_supported: [...policy.scopes] } : {}),
    },
  };
}
