import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import type { KeyportContext, KeyportRouter } from '../context.js';

/** docs/openapi.json at the package root (four levels above dist/src/http/routes at run time). */
export const OPENAPI_DOCUMENT_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'docs', 'openapi.json');

/** Redoc's self-contained browser bundle, installed from npm: no CDN, no fonts fetched at run time. */
const RENDERER_MODULE = 'redoc/bundles/redoc.standalone.js';
export const RENDERER_PATH = '/docs/redoc.standalone.js';

/**
 * Both files change only with a deployment. A strong ETag (a digest of the bytes) lets caches
 * revalidate for nothing; an hour of freshness bounds how long a proxy may serve an old version.
 */
const STATIC_CACHE_CONTROL = 'public, max-age=3600';

interface StaticAsset {
  readonly body: Buffer;
  readonly etag: string;
  readonly type: string;
}

function asset(body: Buffer, type: string): StaticAsset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}

/** Read once, when the router is built: a missing or broken file stops the start, not a request. */
function loadAssets(): { document: StaticAsset; renderer: StaticAsset } {
  const documentText = readFileSync(OPENAPI_DOCUMENT_PATH);
  // Parsed (and re-serialised compactly) so a syntax error in the committed file fails at start.
  const document = Buffer.from(JSON.stringify(JSON.parse(documentText.toString('utf8'))));
  const renderer = readFileSync(createRequire(import.meta.url).resolve(RENDERER_MODULE));
  return {
    document: asset(document, 'application/json; charset=utf-8'),
    renderer: asset(renderer, 'text/javascript; charset=utf-8'),
  };
}

function serveStatic(ctx: KeyportContext<unknown>, file: StaticAsset): void {
  ctx.set('Cache-Control', STATIC_CACHE_CONTROL);
  ctx.set('ETag', file.etag);
  ctx.type = file.type;
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = file.body;
}

/**
 * The reference page. Redoc renders the document in the browser; the page's only inline script
 * carries the response's CSP nonce (http/edge/security_headers.ts), the bundle is same-origin,
 * and the page policy needs no relaxation: Redoc's styles are injected inline (allowed for every
 * page), and search is off because Redoc runs it in a worker built from a `blob:` URL, which the
 * policy refuses. Redoc's sidebar credit links an image on its CDN; `img-src` blocks it before
 * any request leaves the browser, and Redoc hides the broken image.
 */
function docsPage(nonce: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Keyport API reference</title>',
    '</head>',
    '<body>',
    '<div id="reference"></div>',
    `<script src="${RENDERER_PATH}" nonce="${nonce}"></script>`,
    `<script nonce="${nonce}">Redoc.init('/openapi.json', { disableSearch: true, expandResponses: '200,201' }, document.getElementById('reference'));</script>`,
    '</body>',
    '</html>',
  ].join('\n');
}

/**
 * `GET /openapi.json` (the committed docs/openapi.json, OpenAPI 3.1 of Keyport's own endpoints)
 * and `GET /docs` (that document rendered), docs/reference.md §11. Neither is rate-limited or
 * open to other origins: they describe the API, they are not part of it. They reach no service:
 * `S` is unconstrained, so a handler here cannot use `ctx.services` at all.
 */
export function apiDocsRoutes<S>(): KeyportRouter<S> {
  const router: KeyportRouter<S> = new Router();
  const { document, renderer } = loadAssets();

  router.get('/openapi.json', async function openapiDocument(ctx) {
    serveStatic(ctx, document);
  });

  router.get(RENDERER_PATH, async function docsRenderer(ctx) {
    serveStatic(ctx, renderer);
  });

  router.get('/docs', async function docsReference(ctx) {
    // The page carries this response's nonce: no cache may hand it to another response.
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = docsPage(ctx.state.cspNonce!);
  });

  return router;
}
