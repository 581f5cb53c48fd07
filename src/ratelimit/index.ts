/**
 * Rate limiting (docs/reference.md §5): the service lives on `services.rateLimits`; routes use the koa steps.
 * See docs/rate-limits.md for where each limit plugs in.
 */
export { rateLimitSummary, type RateLimitDecision, type WindowState } from './decision.js';
export { RATE_LIMIT_HEADER_NAMES, rateLimitHeaders } from './headers.js';
export { apiKeySubject } from './api_key_subject.js';
export { enforceRateLimit, guardKeyGuessing, limitApiKey, limitLoginByIp, refuseRequest, setRateLimitHeaders, type ApiKeyLimitServices, type EnforceOptions, type KeyGuessingGuardServices, type LoginIpLimitServices, type RateLimitRefusalServices, type RateLimitStepServices } from './koa.js';
export type { ApiKeyLimitOverrides, KeyEnvironment, LimiterName } from './policies.js';
export { RateLimits, type ApiKeySubject, type RateLimitStatus } from './service.js';
