import type { Metrics } from '../lib/metrics.js';
import type { RateLimits } from './service.js';

/**
 * What the engine-side limits need from the container: declared here rather than picked from
 * `Services`, so the limits do not import the container that installs them (no import cycle).
 */
export interface RateLimitDependencies {
  readonly rateLimits: RateLimits;
  readonly metrics: Metrics;
}
