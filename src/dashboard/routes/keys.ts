import type { AuditLog } from '../../audit/audit_log.js';
import type { Config } from '../../config/config.js';
import type { KeyportContext, KeyportRouter } from '../../http/context.js';
import { keyStatus, type AgentRecord, type ApiKeyRecord, type KeyServices } from '../../keys/index.js';
import { effectiveRateLimits } from '../../keys/rate_limits.js';
import { knownScopes, scopesAllowedFor, ACCESS_TYPES, KEY_ENVS } from '../../keys/scopes.js';
import { Conflict, KeyportError } from '../../lib/errors.js';
import { ConfirmForm, NewKeyForm, RotateKeyForm } from '../forms.js';
import { EMPTY_KEY_FORM, keyFormErrors, keyFormValues, keyOptions, type FieldErrors, type KeyFormField, type KeyFormValues } from '../key_form.js';
import { agentCrumbs, keyCrumbs } from '../crumbs.js';
import { renderUsageChart } from '../usage_chart.js';
import type { DashboardServices } from '../index.js';
import { renderDashboardPage } from '../views.js';
import { actorOf, checkCsrf, dashboardState, formOf, param, parseForm, requireAdmin, seeOther } from './steps.js';

/**
 * What the key pages reach: agents and keys, the one-time reveals and usage counts, the key's audit
 * events, and the config the pages show (scopes, default rate limits, the issuer).
 */
export interface DashboardKeyRouteServices {
  readonly keys: Pick<KeyServices, 'agents' | 'apiKeys'>;
  readonly dashboard: Pick<DashboardServices, 'reveals' | 'usage'>;
  readonly audit: Pick<AuditLog, 'list'>;
  readonly config: Pick<Config, 'extraScopes' | 'rateLimit' | 'issuer'>;
}

/** Grace periods offered when rotating; the key service accepts any duration up to 30 days. */
export const GRACE_CHOICES = [
  { value: '0', label: 'None: the old key stops working now' },
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '24 hours (default)' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
] as const;
const DEFAULT_GRACE = '24h';

const ACCESS_TYPE_HELP: Record<string, string> = {
  admin: 'Every scope, including admin. For operators.',
  integrations: 'read, write, delete and extra scopes; never admin. For integrations and sync jobs.',
  transactional: 'read and write only. For callers that act but never destroy.',
};

async function keyOr404(ctx: KeyportContext<DashboardKeyRouteServices>): Promise<ApiKeyRecord> {
  return ctx.services.keys.apiKeys.get(param(ctx, 'keyId'));
}

async function activeAgentOr404(ctx: KeyportContext<DashboardKeyRouteServices>): Promise<AgentRecord> {
  const agent = await ctx.services.keys.agents.get(param(ctx, 'agentId'));
  if (agent.status !== 'active') throw new Conflict(`Agent ${agent.name} (${agent.id}) is revoked; it cannot get new keys.`);
  return agent;
}

async function renderKeyForm(ctx: KeyportContext<DashboardKeyRouteServices>, status: number, agent: AgentRecord, values: KeyFormValues, errors: FieldErrors<KeyFormField>, formError?: string): Promise<void> {
  const extra = ctx.services.config.extraScopes;
  await renderDashboardPage(ctx, status, 'key_new', {
    title: 'New API key',
    section: 'agents',
    crumbs: agentCrumbs(agent, { text: 'New API key' }),
    agent,
    values,
    errors,
    formError,
    scopes: knownScopes(extra),
    accessTypes: ACCESS_TYPES.map((type) => ({ value: type, help: ACCESS_TYPE_HELP[type], allowed: scopesAllowedFor(type, extra) })),
    envs: KEY_ENVS,
    defaults: ctx.services.config.rateLimit,
  });
}

/**
 * After the POST that made it: the new key waits in the one-time reveals for this dashboard
 * session, and the browser is sent to the page that shows it (POST/redirect/GET), so reloading
 * that page never creates a second key. The key is never in a URL, a redirect or a cookie.
 */
function revealKey(ctx: KeyportContext<DashboardKeyRouteServices>, key: ApiKeyRecord, apiKey: string): void {
  ctx.services.dashboard.reveals.put(dashboardState(ctx).session!.id, key.id, apiKey);
  seeOther(ctx, `/dashboard/keys/${encodeURIComponent(key.id)}/created`);
}

/** The key this one replaced, when it came from a rotation. */
async function predecessorOf(ctx: KeyportContext<DashboardKeyRouteServices>, key: ApiKeyRecord): Promise<ApiKeyRecord | undefined> {
  const siblings = await ctx.services.keys.apiKeys.list({ agentId: key.agentId, limit: 1000 });
  return siblings.find((other) => other.replacedBy === key.id);
}

/** New keys, one key's page, rotation and revocation. */
export function keyRoutes<S extends DashboardKeyRouteServices>(router: KeyportRouter<S>): void {
  router.get('/agents/:agentId/keys/new', requireAdmin, async function showNewKeyForm(ctx) {
    const agent = await activeAgentOr404(ctx);
    await renderKeyForm(ctx, 200, agent, { ...EMPTY_KEY_FORM, contact_email: agent.contactEmail ?? '' }, {});
  });

  router.post('/agents/:agentId/keys', requireAdmin, checkCsrf, parseForm(NewKeyForm), async function createKey(ctx) {
    const agent = await activeAgentOr404(ctx);
    const values = keyFormValues(formOf<NewKeyForm>(ctx));
    const { apiKeys } = ctx.services.keys;
    const errors = keyFormErrors(values, (input) => apiKeys.resolveSettings(input, agent.contactEmail));
    if (Object.keys(errors).length > 0) return renderKeyForm(ctx, 400, agent, values, errors);
    try {
      const created = await apiKeys.create(agent.id, keyOptions(values), actorOf(ctx));
      return revealKey(ctx, created.key, created.apiKey);
    } catch (err) {
      // A combination no single field shows (none today; kept for rules added to the service later).
      if (err instanceof KeyportError && err.code === 'invalid_request') return renderKeyForm(ctx, 400, agent, values, {}, err.message);
      throw err;
    }
  });

  // The show-once page: the key the POST left for this session, taken out as it is shown (no-store).
  router.get('/keys/:keyId/created', requireAdmin, async function showCreatedKey(ctx) {
    const key = await keyOr404(ctx);
    const agent = await ctx.services.keys.agents.get(key.agentId);
    const previous = await predecessorOf(ctx, key);
    const apiKey = ctx.services.dashboard.reveals.take(dashboardState(ctx).session!.id, key.id);
    const title = previous ? 'Your rotated API key' : 'Your new API key';
    if (apiKey) return renderDashboardPage(ctx, 200, 'key_secret', { title, section: 'agents', crumbs: keyCrumbs(agent, key), agent, key, apiKey, previous });
    await renderDashboardPage(ctx, 200, 'secret_gone', {
      title: 'This key was already shown',
      section: 'agents',
      crumbs: keyCrumbs(agent, key),
      what: `The API key ${key.prefix}… ("${key.name}")`,
      why: 'Keyport shows a new key once, right after it is made, and keeps only a hash of it. Reloading that page does not show it again or make another key.',
      next: keyStatus(key) === 'active' && !key.replacedBy
        ? { href: `/dashboard/keys/${encodeURIComponent(key.id)}/rotate`, text: 'Rotate it to get a new key', note: 'If you did not copy it, rotate it: you get a new key to copy, and you choose how long this one keeps working.' }
        : undefined,
      back: { href: `/dashboard/keys/${encodeURIComponent(key.id)}`, text: `Go to ${key.prefix}…` },
    });
  });

  router.get('/keys/:keyId', requireAdmin, async function showKey(ctx) {
    const key = await keyOr404(ctx);
    const { keys, dashboard, audit, config } = ctx.services;
    const agent = await keys.agents.get(key.agentId);
    const usage = await dashboard.usage.summary(key.id);
    const events = await audit.list({ targetType: 'api_key', targetId: key.id, limit: 20 });
    await renderDashboardPage(ctx, 200, 'key', {
      title: `API key ${key.prefix}…`,
      section: 'agents',
      crumbs: keyCrumbs(agent, key),
      agent,
      key,
      status: keyStatus(key),
      usage,
      chart: renderUsageChart(usage.hourly, { label: `Requests per hour for ${key.prefix}`, width: 640, height: 180 }),
      limits: effectiveRateLimits(key, config.rateLimit),
      issuer: config.issuer,
      events,
    });
  });

  router.get('/keys/:keyId/rotate', requireAdmin, async function showRotateForm(ctx) {
    const key = await keyOr404(ctx);
    const agent = await ctx.services.keys.agents.get(key.agentId);
    await renderDashboardPage(ctx, 200, 'key_rotate', { title: `Rotate ${key.prefix}…`, section: 'agents', crumbs: keyCrumbs(agent, key, { text: 'Rotate' }), key, status: keyStatus(key), choices: GRACE_CHOICES, grace: DEFAULT_GRACE, error: undefined });
  });

  router.post('/keys/:keyId/rotate', requireAdmin, checkCsrf, parseForm(RotateKeyForm), async function rotateKey(ctx) {
    const key = await keyOr404(ctx);
    const grace = formOf<RotateKeyForm>(ctx).grace ?? DEFAULT_GRACE;
    try {
      const rotated = await ctx.services.keys.apiKeys.rotate(key.id, { grace }, actorOf(ctx));
      return revealKey(ctx, rotated.key, rotated.apiKey);
    } catch (err) {
      if (err instanceof KeyportError && err.code === 'invalid_request') {
        const agent = await ctx.services.keys.agents.get(key.agentId);
        return renderDashboardPage(ctx, 400, 'key_rotate', { title: `Rotate ${key.prefix}…`, section: 'agents', crumbs: keyCrumbs(agent, key, { text: 'Rotate' }), key, status: keyStatus(key), choices: GRACE_CHOICES, grace, error: err.message.replace(/^grace: /, 'Grace period: ') });
      }
      throw err;
    }
  });

  router.get('/keys/:keyId/revoke', requireAdmin, async function confirmKeyRevocation(ctx) {
    const key = await keyOr404(ctx);
    if (key.status === 'revoked') throw new Conflict(`API key ${key.prefix}… (${key.id}) is already revoked.`);
    const agent = await ctx.services.keys.agents.get(key.agentId);
    await renderDashboardPage(ctx, 200, 'confirm', {
      title: `Revoke API key ${key.prefix}…?`,
      section: 'agents',
      crumbs: keyCrumbs(agent, key, { text: 'Revoke' }),
      action: `/dashboard/keys/${encodeURIComponent(key.id)}/revoke`,
      cancel: `/dashboard/keys/${encodeURIComponent(key.id)}`,
      button: 'Revoke key',
      lines: [
        `The key ${key.prefix}… ("${key.name}") stops working at once, on every instance: requests with it get 401 revoked_api_key.`,
        'Every session and token issued from it ends with it. This cannot be undone; an integration that still uses it will fail.',
      ],
    });
  });

  router.post('/keys/:keyId/revoke', requireAdmin, checkCsrf, parseForm(ConfirmForm), async function revokeKey(ctx) {
    const key = await keyOr404(ctx);
    if (formOf<ConfirmForm>(ctx).confirm !== 'yes') return seeOther(ctx, `/dashboard/keys/${encodeURIComponent(key.id)}/revoke`);
    await ctx.services.keys.apiKeys.revoke(key.id, actorOf(ctx));
    return seeOther(ctx, `/dashboard/agents/${encodeURIComponent(key.agentId)}?done=key_revoked`);
  });
}
