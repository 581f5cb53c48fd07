import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ReusedSlots } from '../lib/reused_slots.js';

export interface DrainReport {
  /** Requests being handled (read, not yet answered) when the drain began. */
  readonly inFlightAtStart: number;
  /** Requests whose connection had to be closed before they were answered (grace spent). */
  readonly cut: number;
  /** How long it took until every connection was closed. */
  readonly ms: number;
}

/**
 * Tracks the requests being handled and drains the server for shutdown: stop accepting, close idle
 * keep-alive connections (now and whenever one falls idle), answer every request already read with
 * `Connection: close` (those in flight and those that still arrive on open connections), so busy
 * keep-alive connections end after their current answer instead of keeping the instance alive, and
 * only at `cutAfterMs` close what is left.
 */
export class ConnectionDrain {
  /** The responses being written (a long-lived `Set` of them cost V8 twice the promotion: lib/reused_slots.ts). */
  private readonly inFlight = new ReusedSlots<ServerResponse>();
  private draining = false;
  private readonly onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    const slot = this.inFlight.add(res);
    res.once('close', () => this.inFlight.remove(slot));
    if (this.draining) res.setHeader('Connection', 'close');
  };

  constructor(private readonly server: Server) {
    server.on('request', this.onRequest);
  }

  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  async drain(cutAfterMs: number): Promise<DrainReport> {
    const started = performance.now();
    this.draining = true;
    const inFlightAtStart = this.inFlight.size;
    // Node writes the headers after the handler is done: these answers still carry it.
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Node closes the idle connections in close(); a connection whose last answer was written
    // before the drain began (without Connection: close) falls idle later.
    this.server.closeIdleConnections();
    const sweeper = setInterval(() => this.server.closeIdleConnections(), 50);
    let cutTimer: NodeJS.Timeout | undefined;
    let cut = 0;
    const cutOff = new Promise<void>((resolve) => {
      cutTimer = setTimeout(() => {
        cut = this.inFlight.size;
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
    return { inFlightAtStart, cut, ms: Math.round(performance.now() - started) };
  }
}
