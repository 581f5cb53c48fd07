import type { Config } from '../config/config.js';
import type { ResourceServerPolicy, ResourceServerStore } from '../oidc/resource_servers.js';
import { ExchangeRefused } from './errors.js';

export interface ExchangeAudiencesDependencies {
  readonly config: Pick<Config, 'tokenTtl'>;
  readonly resourceServers: Pick<ResourceServerStore, 'defaultAudience' | 'defaultPolicy' | 'find'>;
}

/**
 * The audience side of every exchanged token: which resource server it is for (its format, scopes
 * and TTL) and how long it lives there. Shared by the session tokens of `/auth/login`, the
 * access-token subjects of the RFC 8693 grant and the engine's refresh of exchanged tokens, so
 * the three agree.
 */
export class ExchangeAudiences {
  constructor(private readonly deps: ExchangeAudiencesDependencies) {}

  /** The policy of a known audience (undefined: the issuer); invalid_target for an unknown one. */
  async policyFor(audience: string | undefined): Promise<ResourceServerPolicy> {
    const { resourceServers } = this.deps;
    if (audience === undefined) return resourceServers.defaultPolicy;
    const policy = await resourceServers.find(audience);
    if (!policy) throw new ExchangeRefused('invalid_request', 'invalid_target', 'The audience (resource indicator) is not a known resource server.');
    return policy;
  }

  /** Seconds an exchanged token lives for this audience: TOKEN_TTL, or a resource server's shorter TTL. */
  lifetimeFor(audience: string, resourceServerTtl: number | undefined): number {
    const { tokenTtl } = this.deps.config;
    if (audience === this.deps.resourceServers.defaultAudience || resourceServerTtl === undefined) return tokenTtl;
    return Math.min(tokenTtl, resourceServerTtl);
  }
}
