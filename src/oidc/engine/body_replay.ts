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

  /** Reads the whole body (the caller has bounded its size through Content-Length). */
  static async read(req: IncomingMessage): Promise<ReplayableBody> {
    const chunks: Buffer[] = [];
    let failure: unknown;
    try {
      for await (const chunk of req.iterator({ destroyOnReturn: false })) chunks.push(chunk as Buffer);
    } catch (err) {
      failure = err ?? new Error('request body read failed');
    }
    return new ReplayableBody(req, chunks, failure);
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
