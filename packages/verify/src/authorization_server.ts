import { fetchJson, UpstreamError, type Fetch } from './upstream.js';

/** The endpoints of Keyport the verifier talks to. */
export interface KeyportEndpoints {
  readonly jwksUri: string;
  /** Absent when Keyport's metadata names none and no override was given. */
  readonly introspectionEndpoint: string | undefined;
}

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
export function authorizationServerMetadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

/**
 * Keyport's RFC 8414 metadata, fetched once on first use (not at start, so an API can boot while
 * Keyport is still coming up) and kept for the life of the process. A failed fetch is not kept:
 * the next request tries again. Explicit endpoint overrides skip the fetch altogether.
 */
export class AuthorizationServer {
  private endpoints: KeyportEndpoints | undefined;
  private loading: Promise<KeyportEndpoints> | undefined;

  constructor(
    readonly issuer: string,
    private readonly overrides: { jwksUri?: string; introspectionEndpoint?: string },
    private readonly fetchImpl: Fetch,
    private readonly timeoutMs: number,
  ) {
    if (overrides.jwksUri && overrides.introspectionEndpoint) this.endpoints = { jwksUri: overrides.jwksUri, introspectionEndpoint: overrides.introspectionEndpoint };
  }

  async resolve(): Promise<KeyportEndpoints> {
    if (this.endpoints) return this.endpoints;
    this.loading ??= this.discover().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  private async discover(): Promise<KeyportEndpoints> {
    const metadata = await fetchJson(this.fetchImpl, authorizationServerMetadataUrl(this.issuer), { headers: { accept: 'application/json' } }, this.timeoutMs);
    // RFC 8414 §3.3: the metadata must be about the issuer we were configured with.
    if (metadata.issuer !== this.issuer) throw new UpstreamError(`the metadata at ${authorizationServerMetadataUrl(this.issuer)} is for issuer ${JSON.stringify(metadata.issuer)}, not ${this.issuer}`);
    const jwksUri = this.overrides.jwksUri ?? stringField(metadata, 'jwks_uri');
    if (!jwksUri) throw new UpstreamError(`Keyport's metadata names no jwks_uri`);
    this.endpoints = { jwksUri, introspectionEndpoint: this.overrides.introspectionEndpoint ?? stringField(metadata, 'introspection_endpoint') };
    return this.endpoints;
  }
}

function stringField(metadata: Record<string, unknown>, name: string): string | undefined {
  const value = metadata[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
