import type { RateLimitDefaults } from '../config/config.js';
import type { ApiKeyRecord } from './records.js';

/** The limits that apply to a key: its override where set, the configured default elsewhere. */
export function effectiveRateLimits(key: Pick<ApiKeyRecord, 'rateLimit'>, defaults: RateLimitDefaults): RateLimitDefaults {
  return {
    perMinute: key.rateLimit?.perMinute ?? defaults.perMinute,
    perHour: key.rateLimit?.perHour ?? defaults.perHour,
    burst: key.rateLimit?.burst ?? defaults.burst,
  };
}
