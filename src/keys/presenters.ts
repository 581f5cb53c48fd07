import type { RateLimitDefaults } from '../config/config.js';
import { effectiveRateLimits } from './rate_limits.js';
import { keyStatus, type AgentRecord, type ApiKeyRecord } from './records.js';

/**
 * The wire shapes of agents and keys (snake_case, ISO timestamps), shared by the CLI's `--json`,
 * `/auth/test` and, later, the admin API and the dashboard, so all of them say the same thing.
 */
export interface AgentJson {
  id: string;
  name: string;
  contact_email: string | null;
  status: AgentRecord['status'];
  created_at: string;
  revoked_at: string | null;
}

export interface ApiKeyJson {
  id: string;
  agent_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  access_type: ApiKeyRecord['accessType'];
  env: ApiKeyRecord['env'];
  status: ReturnType<typeof keyStatus>;
  expires_at: string | null;
  ip_allow_list: string[] | null;
  /** The override as stored (null fields use the default) and the limits in effect. */
  rate_limit: { per_minute: number | null; per_hour: number | null; burst: number | null } | null;
  effective_rate_limit: { per_minute: number; per_hour: number; burst: number };
  contact_email: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  replaced_by: string | null;
  grace_until: string | null;
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

export function agentJson(agent: AgentRecord): AgentJson {
  return {
    id: agent.id,
    name: agent.name,
    contact_email: agent.contactEmail,
    status: agent.status,
    created_at: agent.createdAt.toISOString(),
    revoked_at: iso(agent.revokedAt),
  };
}

export function apiKeyJson(key: ApiKeyRecord, defaults: RateLimitDefaults, now: number = Date.now()): ApiKeyJson {
  const effective = effectiveRateLimits(key, defaults);
  return {
    id: key.id,
    agent_id: key.agentId,
    name: key.name,
    prefix: key.prefix,
    scopes: [...key.scopes],
    access_type: key.accessType,
    env: key.env,
    status: keyStatus(key, now),
    expires_at: iso(key.expiresAt),
    ip_allow_list: key.ipAllowList ? [...key.ipAllowList] : null,
    rate_limit: key.rateLimit ? { per_minute: key.rateLimit.perMinute, per_hour: key.rateLimit.perHour, burst: key.rateLimit.burst } : null,
    effective_rate_limit: { per_minute: effective.perMinute, per_hour: effective.perHour, burst: effective.burst },
    contact_email: key.contactEmail,
    created_at: key.createdAt.toISOString(),
    last_used_at: iso(key.lastUsedAt),
    revoked_at: iso(key.revokedAt),
    replaced_by: key.replacedBy,
    grace_until: iso(key.graceUntil),
  };
}
