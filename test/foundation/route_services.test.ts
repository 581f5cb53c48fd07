import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdminAuthServices } from '../../src/admin/bearer_auth.js';
import type { AdminAgentTokenRouteServices } from '../../src/admin/routes/agent_tokens.js';
import type { AdminAgentRouteServices } from '../../src/admin/routes/agents.js';
import type { AdminClientRouteServices } from '../../src/admin/routes/clients.js';
import type { AdminKeyRouteServices } from '../../src/admin/routes/keys.js';
import type { AdminMcpClientRouteServices } from '../../src/admin/routes/mcp_clients.js';
import type { DashboardAgentApiAccessRouteServices } from '../../src/dashboard/routes/agent_api_access.js';
import type { DashboardAgentClientRouteServices } from '../../src/dashboard/routes/agent_clients.js';
import type { DashboardAgentRouteServices } from '../../src/dashboard/routes/agents.js';
import type { DashboardAuditRouteServices } from '../../src/dashboard/routes/audit.js';
import type { DashboardClientRouteServices } from '../../src/dashboard/routes/clients.js';
import type { DashboardKeyListRouteServices } from '../../src/dashboard/routes/key_list.js';
import type { DashboardKeyRouteServices } from '../../src/dashboard/routes/keys.js';
import type { DashboardSignInRouteServices } from '../../src/dashboard/routes/sign_in.js';
import type { DashboardStepServices } from '../../src/dashboard/routes/steps.js';
import type { ExchangeRouteServices } from '../../src/exchange/routes.js';
import type { AuthTestRouteServices } from '../../src/http/routes/auth_test.js';
import type { InteractionRouteServices } from '../../src/http/routes/interaction.js';
import type { OperationsRouteServices } from '../../src/http/routes/operations.js';
import type { ApiKeyLimitServices, KeyGuessingGuardServices, LoginIpLimitServices, RateLimitRefusalServices, RateLimitStepServices } from '../../src/ratelimit/koa.js';
import type { ApiKeyAuthServices, BearerTokenAuthServices, PresentedKeyServices } from '../../src/http/api_key_auth.js';
import type { PasswordSignInServices } from '../../src/http/password_sign_in.js';
import type { RequestMetricsServices } from '../../src/http/metrics.js';
import type { ErrorHandlerServices } from '../../src/http/error_handler.js';
import type { RequestDeadlineServices } from '../../src/http/deadline.js';
import type { AccessLogServices } from '../../src/http/access_log.js';
import type { CorsServices } from '../../src/http/edge/cors.js';
import type { RequireHttpsServices } from '../../src/http/edge/require_https.js';
import type { Services } from '../../src/service_container.js';

/**
 * Routes declare the services they reach (src/http/context.ts): each route module exports an
 * interface of narrow feature types and its handlers see only that. The container must provide every
 * one of them, or mounting the module would not compile; this says so by name. `Provides<X>` is
 * `never` when the container lacks something X declares, and `true satisfies never` fails the build
 * on the line of that interface.
 */
type Provides<Narrow> = Services extends Narrow ? true : never;

const CHECKED: Record<string, true> = {
  AdminAuthServices: true satisfies Provides<AdminAuthServices>,
  AdminAgentRouteServices: true satisfies Provides<AdminAgentRouteServices>,
  AdminAgentTokenRouteServices: true satisfies Provides<AdminAgentTokenRouteServices>,
  AdminKeyRouteServices: true satisfies Provides<AdminKeyRouteServices>,
  AdminClientRouteServices: true satisfies Provides<AdminClientRouteServices>,
  AdminMcpClientRouteServices: true satisfies Provides<AdminMcpClientRouteServices>,
  DashboardStepServices: true satisfies Provides<DashboardStepServices>,
  DashboardSignInRouteServices: true satisfies Provides<DashboardSignInRouteServices>,
  DashboardAgentRouteServices: true satisfies Provides<DashboardAgentRouteServices>,
  DashboardAgentApiAccessRouteServices: true satisfies Provides<DashboardAgentApiAccessRouteServices>,
  DashboardAgentClientRouteServices: true satisfies Provides<DashboardAgentClientRouteServices>,
  DashboardKeyListRouteServices: true satisfies Provides<DashboardKeyListRouteServices>,
  DashboardKeyRouteServices: true satisfies Provides<DashboardKeyRouteServices>,
  DashboardClientRouteServices: true satisfies Provides<DashboardClientRouteServices>,
  DashboardAuditRouteServices: true satisfies Provides<DashboardAuditRouteServices>,
  ExchangeRouteServices: true satisfies Provides<ExchangeRouteServices>,
  AuthTestRouteServices: true satisfies Provides<AuthTestRouteServices>,
  InteractionRouteServices: true satisfies Provides<InteractionRouteServices>,
  OperationsRouteServices: true satisfies Provides<OperationsRouteServices>,
  RateLimitRefusalServices: true satisfies Provides<RateLimitRefusalServices>,
  RateLimitStepServices: true satisfies Provides<RateLimitStepServices>,
  ApiKeyLimitServices: true satisfies Provides<ApiKeyLimitServices>,
  KeyGuessingGuardServices: true satisfies Provides<KeyGuessingGuardServices>,
  LoginIpLimitServices: true satisfies Provides<LoginIpLimitServices>,
  PresentedKeyServices: true satisfies Provides<PresentedKeyServices>,
  ApiKeyAuthServices: true satisfies Provides<ApiKeyAuthServices>,
  BearerTokenAuthServices: true satisfies Provides<BearerTokenAuthServices>,
  PasswordSignInServices: true satisfies Provides<PasswordSignInServices>,
  RequestMetricsServices: true satisfies Provides<RequestMetricsServices>,
  ErrorHandlerServices: true satisfies Provides<ErrorHandlerServices>,
  RequestDeadlineServices: true satisfies Provides<RequestDeadlineServices>,
  AccessLogServices: true satisfies Provides<AccessLogServices>,
  CorsServices: true satisfies Provides<CorsServices>,
  RequireHttpsServices: true satisfies Provides<RequireHttpsServices>,
};

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = join(REPO_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** A module typed against the request context: it names one of the context's generic types with an argument. */
const CONTEXT_TYPED = /\b(?:KeyportContext|KeyportRouter|Middleware|RouteStep|AdminRouter|AdminRouteStep)</;
const DECLARED = /^export interface (\w+Services)\b/gm;

function declaredServiceInterfaces(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    if (!CONTEXT_TYPED.test(text) || file.endsWith(`${sep}http${sep}context.ts`)) continue;
    for (const match of text.matchAll(DECLARED)) found.set(match[1]!, relative(REPO_ROOT, file).split(sep).join('/'));
  }
  return found;
}

describe('route modules declare the services they reach', () => {
  it('the container provides every declared interface (checked at compile time above), and each is listed here', () => {
    const declared = declaredServiceInterfaces();
    const unlisted = [...declared].filter(([name]) => !(name in CHECKED)).map(([name, file]) => `${name} (${file})`);
    expect(unlisted, 'add these to CHECKED in test/foundation/route_services.test.ts').to.deep.equal([]);
    const gone = Object.keys(CHECKED).filter((name) => !declared.has(name));
    expect(gone, 'listed here but no longer declared in src/').to.deep.equal([]);
  });

  it('no route module types its services with the whole container', () => {
    const offenders = sourceFiles(SRC)
      .filter((file) => !file.endsWith(`${sep}http${sep}context.ts`) && !file.endsWith(`${sep}service_container.ts`))
      .filter((file) => /\bRequestServices\b/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(REPO_ROOT, file).split(sep).join('/'));
    expect(offenders, 'declare an interface of narrow feature types instead (docs/architecture.md)').to.deep.equal([]);
  });
});
