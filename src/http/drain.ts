import type { Server } from 'node:http';
import type { Middleware } from './context.js';

/**
 * While draining, every answer tells the client to close its keep-alive connection, so busy
 * connections end after their current response instead of keeping the instance alive. Checked
 * before and after the request: one that arrived before the drain began and ends after it gets the
 * header too (koa writes headers after the whole middleware chain).
 */
export const closeConnectionsWhileDraining: Middleware = async function closeConnectionsWhileDraining(ctx, next) {
  const { lifecycle } = ctx.services;
  try {
    await next();
  } finally {
    if (lifecycle.draining) ctx.set('Connection', 'close');
  }
};

export interface DrainReport {
  /** Requests being handled when the drain began. */
  readonly inFlightAtStart: number;
  /** Requests whose connection had to be closed before they were answered (grace spent). */
  readonly cut: number;
  /** How long it took until every connection was closed. */
  readonly ms: number;
}

/**
 * Counts the requests being handled (read, not yet answered) and drains the server: stop
 * accepting, close idle keep-alive connections (now and whenever one falls idle), wait for the
 * requests in flight, and only at `cutAfterMs` close what is left.
 */
export class ConnectionDrain {
  private inFlight = 0;
  private readonly onRequest = (_req: unknown, res: NodeJS.EventEmitter): void => {
    this.inFlight += 1;
    res.once('close', () => { this.inFlight -= 1; });
  };

  constructor(private readonly server: Server) {
    server.on('request', this.onRequest);
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  async drain(cutAfterMs: number): Promise<DrainReport> {
    const started = Date.now();
    const inFlightAtStart = this.inFlight;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Node closes the idle connections in close(); a connection whose last answer was written
    // before the drain began (without Connection: close) falls idle later.
    this.server.closeIdleConnections();
    const sweeper = setInterval(() => this.server.closeIdleConnections(), 50);
    let cutTimer: NodeJS.Timeout | undefined;
    let cut = 0;
    const cutOff = new Promise<void>((resolve) => {
      cutTimer = setTimeout(() => {
        cut = this.inFlight;
        this.server.closeAllConnections();
        resolve();
      }, Math.max(0, cutAfterMs));
    });
    try {
      await Promise.race([closed, cutOff]);
      await closed;
    } finally {
      clearInterval(sweeper);
      clearTimeout(cutTimer);
      this.server.off('request', this.onRequest);
    }
    return { inFlightAtStart, cut, ms: Date.now() - started };
  }
}
