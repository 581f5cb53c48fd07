import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES, type ErrorCode } from '../lib/errors.js';
import { newId } from '../lib/ids.js';

/** Node's parser errors Keyport answers, and how; any other becomes 400 invalid_request. */
const PARSER_ERRORS: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large', message: 'The request line and headers are larger than 16 KiB.' },
};

/** A docs/reference.md §4 error written straight to the socket (there is no koa context here), then the connection closes. */
function answerOnSocket(socket: Duplex, code: ErrorCode, message: string, options: { head: boolean; headers?: Record<string, string> }): void {
  const status = ERROR_CODES[code].status;
  const requestId = newId('req');
  const body = JSON.stringify({ error: { code, message, request_id: requestId } });
  socket.end([
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${requestId}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
    '',
    options.head ? '' : body,
  ].join('\r\n'));
}

/**
 * Requests that never reach koa got no docs/reference.md §4 answer: those Node's HTTP parser refuses
 * (headers or URL over 16 KiB, a malformed request line or header: a bare `400`/`431` with no
 * body and no X-Request-Id) and CONNECT (Node hung up without a word). They now get the error
 * body like every other refusal. A socket that timed out or already carries a response is only
 * closed: there is nobody to answer, or nothing left to say.
 */
export function answerMalformedRequests(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex & { _httpMessage?: unknown }) => {
    if (!socket.writable || (socket._httpMessage !== undefined && socket._httpMessage !== null) || err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.destroy();
      return;
    }
    const { code, message } = PARSER_ERRORS[err.code ?? ''] ?? { code: 'invalid_request' as const, message: 'The request is not valid HTTP.' };
    // A HEAD request gets the headers only (the parser kept the bytes it choked on).
    answerOnSocket(socket, code, message, { head: err.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ' });
  });
  // Keyport is not a proxy: CONNECT is refused like any other method no route answers.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    answerOnSocket(socket, 'method_not_allowed', 'CONNECT is not allowed: Keyport is not a proxy.', { head: false, headers: { Allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' } });
  });
}
