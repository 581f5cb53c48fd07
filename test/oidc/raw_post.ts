import { request } from 'node:http';

/** A raw answer: status, every header but the per-response ones, and the exact body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** Header names and values as sent, in order (per-response values blanked). */
  rawHeaders: string[];
  text: string;
}

/** Headers whose values differ on every answer; blanked in `rawHeaders`, left out of `headers`. */
const PER_RESPONSE_HEADERS: ReadonlySet<string> = new Set(['date', 'x-request-id']);

export const FORM = 'application/x-www-form-urlencoded';

/**
 * A form POST over plain node:http, so that an answer's header names, their order and its bytes can
 * be compared (the fast paths in front of the engine must answer exactly as the engine does).
 * `perResponse` names more headers whose values vary (blanked too).
 */
export function rawPost(base: string, path: string, body: string, headers: Record<string, string> = {}, perResponse: readonly string[] = []): Promise<RawAnswer> {
  const blanked = new Set([...PER_RESPONSE_HEADERS, ...perResponse.map((name) => name.toLowerCase())]);
  return new Promise((resolve, reject) => {
    const outgoing = request(new URL(path, base), { method: 'POST', headers: { 'content-type': FORM, 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const kept: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (!blanked.has(name)) kept[name] = String(value);
        const rawHeaders = res.rawHeaders.map((value, i) => (i % 2 === 1 && blanked.has(res.rawHeaders[i - 1]!.toLowerCase()) ? '…' : value));
        resolve({ status: res.statusCode!, headers: kept, rawHeaders, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The header names of an answer, in the order they were sent. */
export function headerNames(answer: RawAnswer): string[] {
  return answer.rawHeaders.filter((_, i) => i % 2 === 0);
}
