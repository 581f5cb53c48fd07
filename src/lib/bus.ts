import { EventEmitter } from 'node:events';

/**
 * Broadcasts small invalidation messages (a key revoked, a session ended) to every instance.
 * In-process by default; with REDIS_URL a Redis pub/sub implementation replaces it so a
 * revocation on one instance reaches the others within a second.
 */
export interface EventBus {
  publish(channel: string, message: string): Promise<void>;
  /** Returns a function that unsubscribes. Handlers also run for this instance's own messages. */
  subscribe(channel: string, handler: (message: string) => void): () => void;
  close(): Promise<void>;
}

export class InProcessBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, message: string): Promise<void> {
    this.emitter.emit(channel, message);
  }

  subscribe(channel: string, handler: (message: string) => void): () => void {
    this.emitter.on(channel, handler);
    return () => this.emitter.off(channel, handler);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
