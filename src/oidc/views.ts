import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';

/** views/ at the package root (two levels above dist/src/oidc at run time). */
export const VIEWS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'views');

/** Headers for every HTML page Keyport renders: no framing (clickjacking on consent), no scripts. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export interface PageLocals {
  /** The <title> and <h1>. */
  title: string;
  [name: string]: unknown;
}

/**
 * Renders views/<name>.ejs inside views/layout.ejs. ejs escapes `<%= %>` output; templates use
 * `<%- %>` only for HTML Keyport or the engine built (the layout body, the engine's logout form).
 */
export async function renderPage(name: string, locals: PageLocals): Promise<string> {
  const options = { async: true, cache: true, root: VIEWS_DIR } as const;
  const body = await ejs.renderFile(join(VIEWS_DIR, `${name}.ejs`), locals, options);
  return ejs.renderFile(join(VIEWS_DIR, 'layout.ejs'), { ...locals, body }, options);
}
