import type { KeyportContext, KeyportRouter } from '../../http/context.js';
import { KEY_ENVS, type KeyEnv } from '../../keys/scopes.js';
import { keyStatus, type KeyStatus } from '../../keys/index.js';
import { InvalidRequest } from '../../lib/errors.js';
import { DEFAULT_KEY_PAGE_SIZE, KEY_PAGE_SIZES, type KeyPageSize, type KeySearchFilter } from '../key_search.js';
import type { DashboardServices } from '../index.js';
import { renderDashboardPage } from '../views.js';
import { requireAdmin } from './steps.js';

/** What the keys list reaches: the dashboard's key search and its clock (for expired keys). */
export interface DashboardKeyListRouteServices {
  readonly dashboard: Pick<DashboardServices, 'keySearch' | 'clock'>;
}

export const KEY_STATUSES: readonly KeyStatus[] = ['active', 'revoked', 'expired'];
const MAX_TEXT = 100;
const CURSOR_SHAPE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)~(key_[A-Za-z0-9]{1,36})$/;

/** What the form shows back (escaped by the template) and what the page links carry. */
interface KeyListValues { q: string; status: string; env: string; limit: KeyPageSize }

/** One query parameter as text; repeated is refused (which one would count?), absent is ''. */
function text(ctx: KeyportContext<unknown>, name: string): string {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new InvalidRequest(`The filter "${name}" was given more than once.`);
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * The query string as a filter. A value the form cannot produce (a status or environment that
 * does not exist, a page size not offered, a damaged page link, a search over 100 characters) is a
 * 400 page saying which filter and what it accepts, never a 500 and never silently "everything".
 */
function keyListQuery(ctx: KeyportContext<unknown>): { filter: KeySearchFilter; values: KeyListValues } {
  const q = text(ctx, 'q');
  if (q.length > MAX_TEXT) throw new InvalidRequest(`The search text is at most ${MAX_TEXT} characters (a nickname, part of one, a prefix such as ak_live_AbCd, or a key_… id).`);
  const status = text(ctx, 'status');
  if (status !== '' && !(KEY_STATUSES as readonly string[]).includes(status)) throw new InvalidRequest('The status filter must be active, revoked or expired (or empty for any).');
  const env = text(ctx, 'env');
  if (env !== '' && !(KEY_ENVS as readonly string[]).includes(env)) throw new InvalidRequest('The environment filter must be live or test (or empty for both).');
  const limitText = text(ctx, 'limit');
  const limit = limitText === '' ? DEFAULT_KEY_PAGE_SIZE : (KEY_PAGE_SIZES.find((size) => String(size) === limitText));
  if (limit === undefined) throw new InvalidRequest(`The number of rows must be ${KEY_PAGE_SIZES.join(', ')}.`);
  const cursor = text(ctx, 'after');
  let after: KeySearchFilter['after'];
  if (cursor !== '') {
    const match = CURSOR_SHAPE.exec(cursor);
    const at = match ? new Date(match[1]!) : undefined;
    if (!match || !at || Number.isNaN(at.getTime())) throw new InvalidRequest('This page link is not valid. Start again from the first page.');
    after = { createdAt: at, id: match[2]! };
  }
  return {
    filter: { limit, ...(q ? { text: q } : {}), ...(status ? { status: status as KeyStatus } : {}), ...(env ? { env: env as KeyEnv } : {}), ...(after ? { after } : {}) },
    values: { q, status, env, limit },
  };
}

function listLink(values: KeyListValues, after?: string): string {
  const query = new URLSearchParams();
  if (values.q) query.set('q', values.q);
  if (values.status) query.set('status', values.status);
  if (values.env) query.set('env', values.env);
  if (values.limit !== DEFAULT_KEY_PAGE_SIZE) query.set('limit', String(values.limit));
  if (after) query.set('after', after);
  const search = query.toString();
  return search ? `/dashboard/keys?${search}` : '/dashboard/keys';
}

/** GET /dashboard/keys: every agent's keys, searched and filtered on the server, a bounded page at a time (a GET form: works without JavaScript). */
export function keyListRoutes<S extends DashboardKeyListRouteServices>(router: KeyportRouter<S>): void {
  router.get('/keys', requireAdmin, async function listKeys(ctx) {
    const { filter, values } = keyListQuery(ctx);
    const { rows, more } = await ctx.services.dashboard.keySearch.page(filter);
    const now = ctx.services.dashboard.clock.now();
    const last = rows.at(-1);
    const filtered = Boolean(values.q || values.status || values.env);
    await renderDashboardPage(ctx, 200, 'keys', {
      title: 'API keys',
      section: 'keys',
      rows: rows.map((row) => ({ ...row, status: keyStatus(row.key, now) })),
      values,
      statuses: KEY_STATUSES,
      envs: KEY_ENVS,
      sizes: KEY_PAGE_SIZES,
      filtered,
      continued: Boolean(filter.after),
      next: more && last ? listLink(values, `${last.key.createdAt.toISOString()}~${last.key.id}`) : undefined,
      first: listLink(values),
    });
  });
}
