import { ServerResponse, type IncomingMessage } from 'node:http';
import { stringify } from 'node:querystring';
import { Readable } from 'node:stream';
import { inject } from 'light-my-request';
import type { Provider } from './modules.js';

/**
 * Seam: one request run through the engine's own koa app (`provider.callback()`) in-process, as if
 * it had come over HTTP, without a socket.
 */

/** What the engine answered. */
export interface EngineAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** Where the dispatched request appears to come from. */
export interface EngineDispatchOrigin {
  /** The caller's address (the engine sees it as the request's). */
  readonly ip?: string;
  readonly host: string;
  readonly secure: boolean;
}

type Callback = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
const callbacks = new WeakMap<Provider, Callback>();

function callbackOf(provider: Provider): Callback {
  let callback = callbacks.get(provider);
  if (!callback) {
    callback = provider.callback() as unknown as Callback;
    callbacks.set(provider, callback);
  }
  return callback;
}

function answerOf(status: number, text: string): EngineAnswer {
  const parsed: unknown = text ? JSON.parse(text) : {};
  return { status, body: parsed !== null && typeof parsed === 'object' ? parsed as Record<string, unknown> : {} };
}

/**
 * Posts a form to `path` of the engine and returns its JSON answer. `onRequest` sees the request
 * object before the engine does (it is `ctx.req` inside the engine), e.g. to mark it.
 *
 * The request is built by light-my-request (`inject`): a real readable stream with the headers,
 * the caller's address on its socket, and `socket.encrypted` set from `origin.secure` (what koa's
 * `ctx.secure` reads).
 */
export async function postFormToEngine(provider: Provider, path: string, form: Record<string, string>, origin: EngineDispatchOrigin, onRequest?: (req: object) => void): Promise<EngineAnswer> {
  const callback = callbackOf(provider);
  const response = await inject((req, res) => {
    (req.socket as { encrypted?: boolean }).encrypted = origin.secure;
    onRequest?.(req);
    callback(req, res).catch(() => {
      // koa renders its own errors; a rejection here means it could not: answer 500.
      if (!res.writableEnded) {
        res.statusCode = 500;
        res.end();
      }
    });
  }, {
    method: 'POST',
    url: path,
    headers: { host: origin.host, 'content-type': 'application/x-www-form-urlencoded' },
    payload: stringify(form),
    ...(origin.ip !== undefined ? { remoteAddress: origin.ip } : {}),
  });
  return answerOf(response.statusCode, response.payload);
}

/**
 * The hand-made request this seam used before light-my-request; kept for the comparison in
 * bench (see the numbers above postFormToEngine).
 */
export function postFormToEngineHandMade(provider: Provider, path: string, form: Record<string, string>, origin: EngineDispatchOrigin, onRequest?: (req: object) => void): Promise<EngineAnswer> {
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
  onRequest?.(req);
  const res = new ServerResponse(req);
  const callback = callbackOf(provider);
  return new Promise<EngineAnswer>((resolve, reject) => {
    res.end = ((chunk?: unknown) => {
      try {
        const text = chunk === undefined || chunk === null ? '' : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
        resolve(answerOf(res.statusCode, text));
      } catch (err) {
        reject(err);
      }
      return res;
    }) as ServerResponse['end'];
    callback(req, res).catch(reject);
  });
}
