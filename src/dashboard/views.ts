import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import ejs from 'ejs';
import type { KeyportContext } from '../http/context.js';
import { VIEWS_DIR } from '../oidc/views.js';

/** Same ejs setup as the login pages (src/oidc/views.ts); only the layout differs (wider, with navigation). */
const EJS_OPTIONS = { async: true, cache: true, root: VIEWS_DIR } as const;
const DASHBOARD_VIEWS = join(VIEWS_DIR, 'dashboard');

/**
 * Headers of every dashboard page. The CSP allows exactly the inline <style> of the layout and
 * the one inline script (the copy button) through a per-response nonce; nothing else runs, loads
 * or frames the page, and forms post only back here.
 */
export function pageHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Security-Policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "form-action 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // Pages show keys, secrets and audit data: never keep them in a cache or the back-forward store.
    'Cache-Control': 'no-store',
  };
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

const pad = (value: number): string => String(value).padStart(2, '0');

/** Formatting shared by the templates. Everything they print still goes through `<%= %>` escaping. */
export const format = {
  /** `2025-11-24 14:05 UTC`, or an em dash for none. */
  date(value: Date | null | undefined): string {
    if (!value) return '—';
    return `${value.getUTCFullYear()}-${pad(value.getUTCMonth() + 1)}-${pad(value.getUTCDate())} ${pad(value.getUTCHours())}:${pad(value.getUTCMinutes())} UTC`;
  },
  iso(value: Date | null | undefined): string {
    return value ? value.toISOString() : '';
  },
  count(value: number): string {
    return value.toLocaleString('en-US');
  },
};

export interface PageLocals {
  /** The <title> and usually the <h1>. */
  title: string;
  /** Which navigation entry is current. */
  section?: 'agents' | 'keys' | 'clients' | 'agent-clients' | 'audit';
  [name: string]: unknown;
}

/**
 * Renders views/dashboard/<view>.ejs inside views/dashboard/layout.ejs as the response, with the
 * page headers and the request's nonce, signed-in user and CSRF token available to every template.
 */
export async function renderDashboardPage(ctx: KeyportContext<unknown>, status: number, view: string, locals: PageLocals): Promise<void> {
  const state = ctx.state.dashboard;
  const nonce = state?.nonce ?? newNonce();
  const all = {
    section: undefined,
    notice: undefined,
    ...locals,
    nonce,
    format,
    csrf: state?.csrf ?? '',
    userEmail: state?.user?.email ?? '',
    requestId: ctx.state.requestId,
  };
  const body = await ejs.renderFile(join(DASHBOARD_VIEWS, `${view}.ejs`), all, EJS_OPTIONS);
  const html = await ejs.renderFile(join(DASHBOARD_VIEWS, 'layout.ejs'), { ...all, body }, EJS_OPTIONS);
  for (const [name, value] of Object.entries(pageHeaders(nonce))) ctx.set(name, value);
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = html;
}
