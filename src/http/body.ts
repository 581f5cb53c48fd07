import { promisify } from 'node:util';
import { brotliDecompress, unzip, type InputType, type ZlibOptions } from 'node:zlib';
import getRawBody from 'raw-body';
import { InvalidRequest, KeyportError, PayloadTooLarge, UnsupportedMediaType } from '../lib/errors.js';
import type { KeyportContext, Middleware } from './context.js';
import { parseFormText, parseJsonObjectText } from './body_formats.js';

/** Bodies bigger than this (after decompression) get 413 payload_too_large. Nothing we accept comes close. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Methods whose body is read. DELETE bodies have no meaning in HTTP and are left unread. */
const READ_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
/** Methods that may carry a body at all; a body of a type we do not read is 415 on these. */
const BODY_METHODS: ReadonlySet<string> = new Set([...READ_METHODS, 'DELETE']);

type Decompress = (input: InputType, options: ZlibOptions) => Promise<Buffer>;
const unzipAsync = promisify(unzip) as Decompress;
const brotliAsync = promisify(brotliDecompress) as Decompress;

/**
 * `Content-Encoding` values we decode (RFC 9110 §8.4.1; `deflate` is the zlib format, and like
 * every common server we also take gzip under it). `unzip` detects gzip and zlib by their header.
 */
const DECODERS: Readonly<Record<string, Decompress | undefined>> = {
  identity: undefined,
  gzip: unzipAsync,
  'x-gzip': unzipAsync,
  deflate: unzipAsync,
  br: brotliAsync,
};

function contentEncoding(ctx: KeyportContext<unknown>): string {
  return (ctx.get('Content-Encoding') || 'identity').trim().toLowerCase();
}

/** The charset parameter must be UTF-8 when present (RFC 8259 §8.1: JSON is UTF-8). */
function checkCharset(ctx: KeyportContext<unknown>): void {
  const charset = ctx.request.charset;
  if (charset && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') {
    throw new KeyportError('unsupported_media_type', `The request body must be UTF-8, not ${JSON.stringify(charset.slice(0, 40))}.`);
  }
}

/** The raw bytes of the body, read up to the limit (compressed bytes count too), then decoded. */
async function readBytes(ctx: KeyportContext<unknown>): Promise<Buffer> {
  const encoding = contentEncoding(ctx);
  if (!(encoding in DECODERS)) {
    throw new KeyportError('unsupported_media_type', `The Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported (use gzip, deflate, br or none).`);
  }
  const declared = ctx.get('Content-Length');
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, {
      limit: BODY_LIMIT_BYTES,
      // raw-body checks the declared length only for bodies sent as they are.
      length: encoding === 'identity' && /^\d+$/.test(declared) ? Number(declared) : undefined,
    });
  } catch (err) {
    throw readFailure(err);
  }
  const decode = DECODERS[encoding];
  if (!decode) return raw;
  try {
    // Bounded output: a small compressed body cannot expand into a large one (a zip bomb).
    return await decode(raw, { maxOutputLength: BODY_LIMIT_BYTES });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new PayloadTooLarge();
    throw new InvalidRequest(`The request body is not valid ${encoding} data (Content-Encoding says it is).`);
  }
}

/** raw-body's failures (each carries a `type`) as the errors a client may see. */
function readFailure(err: unknown): KeyportError {
  switch ((err as { type?: string }).type) {
    case 'entity.too.large': return new PayloadTooLarge();
    case 'request.size.invalid': return new InvalidRequest('The request length does not match Content-Length.');
    case 'request.aborted': return new InvalidRequest('The request was aborted.');
    default: return new InvalidRequest('The request body could not be read.');
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 or a 400: a byte sequence that is not UTF-8 never becomes U+FFFD inside an ID or a name. */
function decodeUtf8(bytes: Buffer): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new InvalidRequest('The request body is not valid UTF-8.');
  }
}

/**
 * Body parsing for Keyport's own routes (oidc-provider parses its own and warns when something
 * upstream already did): JSON objects for the API, `application/x-www-form-urlencoded` for the
 * HTML pages. Everything a client can get wrong is a 4xx here, before any route sees the body:
 * size (413), type, charset and Content-Encoding (415), bytes that do not decompress or are not
 * UTF-8, malformed JSON or percent-encoding, nesting deeper than any DTO, fields given twice (400).
 */
export const parseBody: Middleware<unknown> = async function parseBody(ctx, next) {
  if (!BODY_METHODS.has(ctx.method)) return next();
  // No body at all (a bodiless POST such as revoke sends Content-Length: 0 and no type).
  if (!ctx.get('Transfer-Encoding') && !ctx.request.length) return next();
  const kind = ctx.is('json', 'urlencoded');
  if (kind === null) return next();
  if (kind === false) throw new UnsupportedMediaType();
  if (!READ_METHODS.has(ctx.method)) return next();
  checkCharset(ctx);
  const text = decodeUtf8(await readBytes(ctx));
  (ctx.request as { body?: unknown }).body = kind === 'json' ? parseJsonObjectText(text) : parseFormText(text);
  await next();
};
