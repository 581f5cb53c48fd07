import type { ApiKeyRecord } from '../keys/index.js';
import type { ApiKeySubject } from './service.js';

/** What the limiter counts for a key: its ID, its env (test keys have their own quota) and its override. */
export function apiKeySubject(key: Pick<ApiKeyRecord, 'id' | 'env' | 'rateLimit'>): ApiKeySubject {
  const override = key.rateLimit;
  return {
    keyId: key.id,
    env: key.env,
    overrides: override
      ? { perMinute: override.perMinute ?? undefined, perHour: override.perHour ?? undefined, burst: override.burst ?? undefined }
      : undefined,
  };
}
