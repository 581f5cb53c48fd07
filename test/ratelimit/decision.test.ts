import { expect } from 'chai';
import { decide, rateLimitSummary } from '../../src/ratelimit/decision.js';
import { rateLimitHeaders } from '../../src/ratelimit/headers.js';
import { apiKeyWindows, DEFAULT_WINDOW_LENGTHS } from '../../src/ratelimit/policies.js';

const DEFAULTS = { perMinute: 60, perHour: 1000, burst: 20 };
const NOW = 1_700_000_000_000;

describe('rate-limit decisions (pure)', () => {
  const windows = apiKeyWindows(DEFAULTS, DEFAULT_WINDOW_LENGTHS);
  const [burst, minute, hour] = windows as [typeof windows[0], typeof windows[0], typeof windows[0]];

  it('reports the window with the fewest requests left while allowed', () => {
    const decision = decide('api_key', [
      { window: burst, reading: { consumed: 5, msBeforeReset: 8_000 } },
      { window: minute, reading: { consumed: 50, msBeforeReset: 30_000 } },
      { window: hour, reading: { consumed: 51, msBeforeReset: 3_000_000 } },
    ], 'consumed', NOW);
    expect(decision).to.include({ allowed: true, limiter: 'api_key', policy: 'minute', limit: 60, remaining: 10, retryAfterSeconds: 0 });
    expect(decision.resetEpochSeconds).to.equal(Math.ceil((NOW + 30_000) / 1000));
    expect(decision.windows.map((w) => [w.policy, w.remaining, w.resetSeconds])).to.deep.equal([['burst', 15, 8], ['minute', 10, 30], ['hour', 949, 3000]]);
  });

  it('refuses when any window is exceeded and reports the longest wait among the refusing ones', () => {
    const decision = decide('api_key', [
      { window: burst, reading: { consumed: 21, msBeforeReset: 4_200 } },
      { window: minute, reading: { consumed: 61, msBeforeReset: 41_100 } },
      { window: hour, reading: { consumed: 100, msBeforeReset: 3_000_000 } },
    ], 'consumed', NOW);
    expect(decision).to.include({ allowed: false, policy: 'minute', limit: 60, remaining: 0, retryAfterSeconds: 42 });
    expect(decision.resetEpochSeconds).to.equal(Math.ceil((NOW + 41_100) / 1000));
  });

  it('treats a window with no count yet as full and fresh', () => {
    const decision = decide('client', [{ window: { name: 'client', seconds: 60, limit: 600 }, reading: null }], 'consumed', NOW);
    expect(decision).to.include({ allowed: true, remaining: 600, retryAfterSeconds: 0, resetEpochSeconds: NOW / 1000 + 60 });
  });

  it('in peek mode refuses once the count has reached the limit (the next one would exceed it)', () => {
    const window = { name: 'failed_key_ip', seconds: 60, limit: 20 };
    expect(decide('failed_key_ip', [{ window, reading: { consumed: 19, msBeforeReset: 1000 } }], 'peek', NOW).allowed).to.equal(true);
    const blocked = decide('failed_key_ip', [{ window, reading: { consumed: 20, msBeforeReset: 1000 } }], 'peek', NOW);
    expect(blocked).to.include({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
  });

  it('never answers a Retry-After of 0 for a refusal about to reset', () => {
    const decision = decide('login_ip', [{ window: { name: 'login_ip', seconds: 60, limit: 1 }, reading: { consumed: 2, msBeforeReset: 0 } }], 'consumed', NOW);
    expect(decision.retryAfterSeconds).to.equal(1);
  });

  it('formats X-RateLimit-* and the IETF RateLimit / RateLimit-Policy structured fields', () => {
    const decision = decide('api_key', [
      { window: burst, reading: { consumed: 1, msBeforeReset: 10_000 } },
      { window: minute, reading: { consumed: 1, msBeforeReset: 60_000 } },
      { window: hour, reading: { consumed: 1, msBeforeReset: 3_600_000 } },
    ], 'consumed', NOW);
    expect(rateLimitHeaders(decision)).to.deep.equal({
      'X-RateLimit-Limit': '20',
      'X-RateLimit-Remaining': '19',
      'X-RateLimit-Reset': String(NOW / 1000 + 10),
      'RateLimit-Policy': '"burst";q=20;w=10, "minute";q=60;w=60, "hour";q=1000;w=3600',
      RateLimit: '"burst";r=19;t=10, "minute";r=59;t=60, "hour";r=999;t=3600',
    });
    expect(rateLimitSummary(decision)).to.deep.equal({ limit: 20, remaining: 19, reset: NOW / 1000 + 10 });
  });

  it('applies per-key overrides window by window and ignores unusable values', () => {
    const overridden = apiKeyWindows(DEFAULTS, DEFAULT_WINDOW_LENGTHS, { perMinute: 5, burst: null, perHour: 0 });
    expect(overridden.map((w) => [w.name, w.seconds, w.limit])).to.deep.equal([['burst', 10, 20], ['minute', 60, 5], ['hour', 3600, 1000]]);
    const odd = apiKeyWindows(DEFAULTS, DEFAULT_WINDOW_LENGTHS, { perMinute: 1.5, burst: -3, perHour: Number.NaN });
    expect(odd.map((w) => w.limit)).to.deep.equal([20, 60, 1000]);
  });
});
