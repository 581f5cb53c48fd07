import { request } from 'node:http';

/** One request as the fuzz suite builds it: exact method, raw path and query, headers and body bytes. */
export interface FuzzRequest {
  readonly method: string;
  /** Path and query exactly as sent (already percent-encoded, or deliberately not). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

export interface FuzzResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  readonly ms: number;
}

/**
 * Sends a request with node:http (no client-side normalisation of the method, path, header
 * order or body, unlike supertest and fetch); a fresh connection each time, so one request's
 * leftovers cannot confuse the next. Rejects only on transport errors (a reset connection is a
 * finding too: the server must answer).
 */
export function send(base: string, fuzz: FuzzRequest, timeoutMs = 15_000): Promise<FuzzResponse> {
  const url = new URL(base);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname, port: url.port, method: fuzz.method, path: fuzz.path, agent: false,
      headers: { ...fuzz.headers, ...(fuzz.body ? { 'Content-Length': String(fuzz.body.length) } : {}) },
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: Date.now() - started }));
      res.on('error', reject);
    });
    // A CONNECT answer arrives as 'connect' (with the socket) instead of 'response'.
    req.on('connect', (res, socket, head) => {
      const chunks: Buffer[] = [head];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: Date.now() - started }));
      socket.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(fuzz.body);
  });
}

/** A request in a few lines, for failure reports (bodies cut short). */
export function describeRequest(fuzz: FuzzRequest): string {
  const body = fuzz.body ? `${JSON.stringify(fuzz.body.subarray(0, 600).toString('latin1'))}${fuzz.body.length > 600 ? ` …(${fuzz.body.length} bytes)` : ''}` : '(no body)';
  const path = fuzz.path.length > 600 ? `${fuzz.path.slice(0, 600)}…(${fuzz.path.length} chars)` : fuzz.path;
  return [`${fuzz.method} ${path}`, ...Object.entries(fuzz.headers).map(([name, value]) => `${name}: ${value.length > 300 ? `${value.slice(0, 300)}…` : value}`), body].join('\n  ');
}
