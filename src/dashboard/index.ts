import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { StaleReads } from '../db/replicas.js';
import type { KeyServices } from '../keys/index.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { deriveKey } from '../lib/crypto.js';
import type { Logger } from '../lib/logger.js';
import { AgentKeyStatsReader } from './agent_key_stats.js';
import { NO_API_KEY_SESSIONS, type ApiKeySessionDirectory } from './api_key_sessions.js';
import { CsrfTokens } from './csrf.js';
import { KeySearch } from './key_search.js';
import { OneTimeReveals } from './one_time_reveals.js';
import { DashboardSessionStore, SESSION_IDLE_TIMEOUT_MS, SESSION_MAX_AGE_MS } from './sessions.js';
import { KeyUsageCounter, USAGE_FLUSH_INTERVAL_MS } from './usage.js';

/** The dashboard's own state (`services.dashboard`); everything it changes goes through the other services. */
export interface DashboardServices {
  /** Server-side sign-in sessions. */
  readonly sessions: DashboardSessionStore;
  readonly csrf: CsrfTokens;
  /**
   * Per-key hourly usage. Requests are counted by a hook on the key verifier; the rate limiter
   * reports refusals with `usage.recordRejection(keyId)`.
   */
  readonly usage: KeyUsageCounter;
  /** Where the agent page's "Sessions" section comes from (a placeholder until token exchange plugs in). */
  readonly apiKeySessions: ApiKeySessionDirectory;
  /** New keys and client secrets waiting for their one showing (POST/redirect/GET). */
  readonly reveals: OneTimeReveals;
  /** Key counts and last use per agent for the agents list (one grouped query per page). */
  readonly keyStats: AgentKeyStatsReader;
  /** The keys list's server-side search, filters and paging. */
  readonly keySearch: KeySearch;
  /** "Now" for the pages' derived statuses (expired, active keys). */
  readonly clock: Clock;
  close(): Promise<void>;
}

export interface DashboardDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly keys: KeyServices;
  /** The token-exchange feature's sessions; default: none. */
  readonly apiKeySessions?: ApiKeySessionDirectory;
  /** "Now" for usage counts; default the system clock. */
  readonly clock?: Clock;
  /** Where usage charts are read; default the primary. */
  readonly staleReads?: StaleReads;
}

export function buildDashboardServices(deps: DashboardDependencies): DashboardServices {
  const { dataSource } = deps.database;
  const clock = deps.clock ?? systemClock;
  const usage = new KeyUsageCounter(dataSource, deps.logger, USAGE_FLUSH_INTERVAL_MS, clock, deps.staleReads);
  const stopCounting = deps.keys.onVerified((key, at) => usage.recordRequest(key.id, at));
  return {
    sessions: new DashboardSessionStore(dataSource, deriveKey(deps.config.secret, 'dashboard-session'), { idleTimeoutMs: SESSION_IDLE_TIMEOUT_MS, maxAgeMs: SESSION_MAX_AGE_MS }),
    csrf: new CsrfTokens(deriveKey(deps.config.secret, 'dashboard-csrf')),
    usage,
    apiKeySessions: deps.apiKeySessions ?? NO_API_KEY_SESSIONS,
    reveals: new OneTimeReveals(clock),
    keyStats: new AgentKeyStatsReader(dataSource, clock),
    keySearch: new KeySearch(dataSource, clock),
    clock,
    close: async () => {
      stopCounting();
      await usage.close();
    },
  };
}

export type { ApiKeySessionDirectory, ApiKeySessionView } from './api_key_sessions.js';
export { NO_API_KEY_SESSIONS } from './api_key_sessions.js';
export type { KeyUsageSummary, HourlyUsage, UsageCounts } from './usage.js';
export type { AgentKeyStats } from './agent_key_stats.js';
