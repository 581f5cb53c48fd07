import { canonicalAgentId } from '../../keys/agent_ids.js';
import type { AuditLog, AuditPageFilter } from '../../audit/audit_log.js';
import type { AuditEvent } from '../../db/entities/audit_event.js';
import type { KeyportContext, KeyportRouter } from '../../http/context.js';
import { InvalidRequest } from '../../lib/errors.js';
import type { OidcServices } from '../../oidc/services.js';
import { renderDashboardPage } from '../views.js';
import { requireAdmin } from './steps.js';

/** What the audit page reaches: the audit trail's pages and action names, the users behind `user:` actors. */
export interface DashboardAuditRouteServices {
  readonly audit: Pick<AuditLog, 'page' | 'actions'>;
  readonly oidc: Pick<OidcServices, 'users'>;
}

export const AUDIT_PAGE_SIZES = [50, 100, 500] as const;
const DEFAULT_PAGE_SIZE = 100;

/** The target type the audit trail uses for each id prefix. */
const TARGET_TYPES: Record<string, string> = { agent: 'agent', agt: 'agent', key: 'api_key', cli: 'client', usr: 'user', ses: 'api_key_session' };

const ACTION_SHAPE = /^[a-z][a-z_]*(?:\.[a-z_]+){0,3}$/;
/** `cli`, `anonymous`, `user:usr_…`, `api-key:key_…`, `admin-token:…`: what AuditEvent.actor holds. */
const ACTOR_SHAPE = /^[a-z][a-z-]{0,30}(?::[A-Za-z0-9_.@-]{1,90})?$/;
const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]{1,190}$/;
const DAY_SHAPE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CURSOR_SHAPE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)~(evt_[A-Za-z0-9]{1,36})$/;

function text(ctx: KeyportContext<DashboardAuditRouteServices>, name: string): string {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new InvalidRequest(`The filter "${name}" was given more than once.`);
  return typeof value === 'string' ? value.trim() : '';
}

function targetFilter(ctx: KeyportContext<DashboardAuditRouteServices>): { targetType: string; targetId: string } | undefined {
  const target = text(ctx, 'target');
  const match = /^([a-z]{3,5})_[A-Za-z0-9]{1,60}$/.exec(target);
  const targetType = match ? TARGET_TYPES[match[1]!] : undefined;
  // The legacy `agt_…` form of an agent id finds the agent's rows (src/keys/agent_ids.ts).
  return targetType ? { targetType, targetId: targetType === 'agent' ? canonicalAgentId(target) : target } : undefined;
}

function day(value: string, name: string): Date | undefined {
  if (value === '') return undefined;
  const match = DAY_SHAPE.exec(value);
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : undefined;
  if (!date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    throw new InvalidRequest(`The ${name} date must be a day written as YYYY-MM-DD (e.g. 2026-01-31).`);
  }
  return date;
}

interface AuditQuery {
  filter: AuditPageFilter;
  /** What the form shows back (escaped by the template). */
  values: { action: string; actor: string; from: string; to: string; target: string; limit: number };
  targetId?: string;
}

/** The query string as a filter. Anything malformed is a 400 page that says which filter and how to write it. */
async function auditQuery(ctx: KeyportContext<DashboardAuditRouteServices>): Promise<AuditQuery> {
  const requested = Number(text(ctx, 'limit'));
  const limit = (AUDIT_PAGE_SIZES as readonly number[]).includes(requested) ? requested : DEFAULT_PAGE_SIZE;
  const action = text(ctx, 'action');
  if (action && !ACTION_SHAPE.test(action)) throw new InvalidRequest('The action filter must be an action name such as key.created or session.ended.');
  const actorInput = text(ctx, 'actor');
  let actor: string | undefined;
  if (actorInput) {
    if (EMAIL_SHAPE.test(actorInput)) {
      const user = await ctx.services.oidc.users.findByEmail(actorInput);
      // An email nobody has matches nothing (rather than everything).
      actor = user ? `user:${user.id}` : `user:unknown`;
    } else if (ACTOR_SHAPE.test(actorInput)) {
      actor = actorInput;
    } else {
      throw new InvalidRequest('The "who" filter must be a user\'s email, or an actor as the log writes it (cli, user:usr_…, api-key:key_…, anonymous).');
    }
  }
  const fromText = text(ctx, 'from');
  const toText = text(ctx, 'to');
  const from = day(fromText, '"from"');
  const to = day(toText, '"to"');
  if (from && to && to < from) throw new InvalidRequest('The "to" date is before the "from" date.');
  const cursor = text(ctx, 'before');
  let before: AuditPageFilter['before'];
  if (cursor) {
    const match = CURSOR_SHAPE.exec(cursor);
    const at = match ? new Date(match[1]!) : undefined;
    if (!match || !at || Number.isNaN(at.getTime())) throw new InvalidRequest('This page link is not valid. Start again from the first page.');
    before = { at, id: match[2]! };
  }
  const target = targetFilter(ctx);
  return {
    filter: { limit, ...(action ? { action } : {}), ...(actor ? { actor } : {}), ...target, ...(from ? { from } : {}), ...(to ? { until: new Date(to.getTime() + 86_400_000) } : {}), ...(before ? { before } : {}) },
    values: { action, actor: actorInput.slice(0, 254), from: fromText.slice(0, 10), to: toText.slice(0, 10), target: text(ctx, 'target').slice(0, 100), limit },
    targetId: target?.targetId,
  };
}

/** Who did it, for people: a user's email instead of `user:usr_…`, the key behind `api-key:key_…`. */
async function actorLabels(ctx: KeyportContext<DashboardAuditRouteServices>, events: AuditEvent[]): Promise<Map<string, { text: string; href?: string }>> {
  const labels = new Map<string, { text: string; href?: string }>();
  for (const actor of new Set(events.map((event) => event.actor))) {
    const [kind, id] = actor.split(':', 2) as [string, string | undefined];
    if (kind === 'user' && id) {
      const user = await ctx.services.oidc.users.findById(id);
      labels.set(actor, { text: user?.email ?? `deleted user ${id}` });
    } else if (kind === 'api-key' && id) {
      labels.set(actor, { text: `API key ${id}`, href: `/dashboard/keys/${encodeURIComponent(id)}` });
    } else if (actor === 'cli') {
      labels.set(actor, { text: 'the command line (npx keyport)' });
    } else if (actor === 'anonymous') {
      labels.set(actor, { text: 'someone not signed in' });
    }
  }
  return labels;
}

/** Details as label/value pairs (never a JSON blob), each value cut to a readable length. */
function detailPairs(details: Record<string, unknown> | null): Array<{ name: string; value: string }> {
  if (!details) return [];
  return Object.entries(details).slice(0, 12).map(([name, value]) => {
    const shown = Array.isArray(value) ? value.join(', ') : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    return { name: name.replace(/_/g, ' '), value: shown.length > 200 ? `${shown.slice(0, 200)}…` : shown };
  });
}

function pageLink(values: AuditQuery['values'], before: string): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== '' && !(name === 'limit' && value === DEFAULT_PAGE_SIZE)) query.set(name, String(value));
  query.set('before', before);
  return `/dashboard/audit?${query.toString()}`;
}

/** The audit log: newest first, a page at a time, filtered by action, who, dates, or one agent, key, client or user. */
export function auditRoutes<S extends DashboardAuditRouteServices>(router: KeyportRouter<S>): void {
  router.get('/audit', requireAdmin, async function showAudit(ctx) {
    const query = await auditQuery(ctx);
    const { audit } = ctx.services;
    const { events, more } = await audit.page(query.filter);
    const labels = await actorLabels(ctx, events);
    const last = events.at(-1);
    const filtered = Boolean(query.values.action || query.values.actor || query.values.from || query.values.to || query.targetId);
    await renderDashboardPage(ctx, 200, 'audit', {
      title: 'Audit log',
      section: 'audit',
      events: events.map((event) => ({ event, actorLabel: labels.get(event.actor), details: detailPairs(event.details) })),
      actions: await audit.actions(),
      values: query.values,
      sizes: AUDIT_PAGE_SIZES,
      target: query.targetId ?? '',
      rawTarget: query.values.target,
      filtered,
      continued: Boolean(query.filter.before),
      next: more && last ? pageLink(query.values, `${last.occurredAt.toISOString()}~${last.id}`) : undefined,
      first: pageLink(query.values, '').replace(/&?before=$/, '').replace(/\?$/, ''),
    });
  });
}
