import type { IncomingMessage } from 'node:http';

/**
 * Seam: `req.readable` and `req.iterator` redefined on a request whose body Keyport read first.
 *
 * A small request body read ahead of oidc-provider, which can be handed back to the engine
 * untouched when Keyport decides not to answer the request itself.
 *
 * The engine reads bodies itself (lib/shared/selective_body.js: `req.readable`, then
 * `for await (chunk of req.iterator({ destroyOnReturn: false }))`, checking the length against
 * Content-Length). A body read before it would otherwise be gone, and its fallback for that case
 * (`req.body`) prints a warning. `replay()` makes the request look unread once more and yields the
 * same chunks, or the same read error, so the engine parses, checks and fails exactly as if it
 * were the first reader. Its overrides remove themselves when the engine has read the replay.
 */
export class ReplayableBody {
  private constructor(private readonly req: IncomingMessage, private readonly chunks: Buffer[], private readonly failure: unknown) {}

  /**
   * Reads the whole body (the caller has bounded its size through Content-Length): its chunks
   * until `end`, or the read error (`error`, or `close` before `end`: an aborted or short body).
   *
   * With the stream's own events rather than `req.iterator()`: the async iterator (and the
   * end-of-stream tracking it sets up) showed at ~10–13 µs per introspection in profiles, for a
   * body that is one chunk.
   */
  static read(req: IncomingMessage): Promise<ReplayableBody> {
    // Already over (as the iterator would have found it): destroyed before its end, or ended.
    if (req.destroyed && !req.readableEnded) return Promise.resolve(new ReplayableBody(req, [], req.errored ?? new Error('request body read failed: closed before its end')));
    if (req.readableEnded) return Promise.resolve(new ReplayableBody(req, [], undefined));
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
      };
      const settle = (failure: unknown): void => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('close', onClose);
        resolve(new ReplayableBody(req, chunks, failure));
      };
      const onEnd = (): void => settle(undefined);
      const onError = (err: unknown): void => settle(err ?? new Error('request body read failed'));
      const onClose = (): void => settle(new Error('request body read failed: closed before its end'));
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
      req.on('close', onClose);
    });
  }

  /** The body as text, or undefined when reading failed (aborted, short). */
  text(): string | undefined {
    if (this.failure !== undefined) return undefined;
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /** Hands the body to the next reader (the engine) as if nothing had read it. */
  replay(): void {
    const { req, chunks, failure } = this;
    const restore = (): void => {
      delete (req as { readable?: boolean }).readable;
      delete (req as { iterator?: unknown }).iterator;
    };
    Object.defineProperty(req, 'readable', { configurable: true, enumerable: false, get: () => true });
    Object.defineProperty(req, 'iterator', {
      configurable: true,
      enumerable: false,
      writable: true,
      value: function iterator(): AsyncGenerator<Buffer> {
        restore();
        return replayChunks(chunks, failure);
      },
    });
  }
}

async function* replayChunks(chunks: readonly Buffer[], failure: unknown): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield chunk;
  if (failure !== undefined) throw failure;
}
