import type { errors, Provider } from '../oidc/engine/index.js';
import type { RateLimitDependencies } from './dependencies.js';
import { enforceOAuthRateLimit } from './token_endpoint.js';

/**
 * Dynamic client registration per address (`registration_ip`, RATE_LIMIT_REGISTRATION_PER_IP a
 * minute; docs/reference.md §5): every POST to the registration endpoint counts, accepted or not,
 * so a flood is refused with 429 `rate_limit_exceeded` before the engine reads the body and
 * nothing is stored. Management requests (RFC 7592) carry a registration access token and are not counted.
 */
export function limitRegistrationPerAddress(provider: Provider, services: RateLimitDependencies, registrationPath: string, perMinute: number): void {
  // Not async itself: every engine request passes here, and only registrations have anything to wait for.
  provider.use(function limitRegistration(ctx, next) {
    if (ctx.method !== 'POST' || ctx.path !== registrationPath) return next();
    return countRegistration(ctx, next);
  });

  async function countRegistration(ctx: Parameters<Parameters<Provider['use']>[0]>[0], next: () => Promise<unknown>): Promise<unknown> {
    const decision = await services.rateLimits.consumeRegistrationIp(ctx.ip, perMinute);
    try {
      enforceOAuthRateLimit(ctx, decision, services.metrics);
    } catch (error) {
      // This step runs before the engine's routes, outside its error rendering: answer in its format here.
      const refusal = error as InstanceType<typeof errors.OIDCProviderError>;
      ctx.status = refusal.status;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: refusal.error, error_description: refusal.error_description };
      return undefined;
    }
    return next();
  }
}
