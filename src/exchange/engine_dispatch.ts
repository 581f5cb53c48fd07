import { ServerResponse, type IncomingMessage } from 'node:http';
import { stringify } from 'node:querystring';
import { Readable } from 'node:stream';
import type { Provider } from '../oidc/engine.js';

/** What the engine answered. */
export interface EngineAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface DispatchOrigin {
  /** The caller's address (the engine sees it as the request's). */
  readonly ip?: string;
  readonly host: string;
  readonly secure: boolean;
  /**
   * The caller already passed the API-key checks of this use (allow list, rate limit) in front of
   * the engine: hooks inside it must not count the request a second time (see `apiKeyCheckedAhead`).
   */
  readonly apiKeyChecked?: boolean;
}

type Callback = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
const callbacks = new WeakMap<Provider, Callback>();
/** Requests dispatched with `apiKeyChecked`. */
const checkedAhead = new WeakSet<object>();

/** Whether the engine's current request came through `postToEngine` after Keyport checked the API key. */
export function apiKeyCheckedAhead(ctx: { req?: unknown } | undefined): boolean {
  return typeof ctx?.req === 'object' && ctx.req !== null && checkedAhead.has(ctx.req);
}

/**
 * Runs one form POST through the engine's own endpoint in-process, as if it had come over HTTP,
 * and returns its answer. `/auth/refresh` uses it so that refreshing there is exactly the engine's
 * refresh grant (rotation, reuse detection, the same hooks and events) and not a second copy of it.
 *
 * The request is a readable stream with the headers koa reads; the response object is never
 * attached to a socket: koa's final `res.end(body)` is captured instead of written.
 */
export function postToEngine(provider: Provider, path: string, form: Record<string, string>, origin: DispatchOrigin): Promise<EngineAnswer> {
  const body = Buffer.from(stringify(form));
  const req = Object.assign(Readable.from([body]), {
    method: 'POST',
    url: path,
    headers: {
      host: origin.host,
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(body.length),
    },
    httpVersion: '1.1',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    socket: { remoteAddress: origin.ip, encrypted: origin.secure },
  }) as unknown as IncomingMessage;
  if (origin.apiKeyChecked) checkedAhead.add(req);
  const res = new ServerResponse(req);

  let callback = callbacks.get(provider);
  if (!callback) {
    callback = provider.callback() as unknown as Callback;
    callbacks.set(provider, callback);
  }
  return new Promise<EngineAnswer>((resolve, reject) => {
    res.end = ((chunk?: unknown) => {
      try {
        const text = chunk === undefined || chunk === null ? '' : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
        const parsed: unknown = text ? JSON.parse(text) : {};
        resolve({ status: res.statusCode, body: parsed !== null && typeof parsed === 'object' ? parsed as Record<string, unknown> : {} });
      } catch (err) {
        reject(err);
      }
      return res;
    }) as ServerResponse['end'];
    callback(req, res).catch(reject);
  });
}
