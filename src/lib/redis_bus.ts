import type { RedisClient } from './redis_client.js';
import type { EventBus } from './bus.js';
import type { CircuitBreaker } from './circuit_breaker.js';
import { randomAlphanumeric } from './crypto.js';
import type { Logger } from './logger.js';

/**
 * Delivered locally (never over Redis) when the subscriber connection comes back after an
 * outage: messages published meanwhile are lost (pub/sub keeps nothing), so a cache that relies
 * on invalidation messages should drop its entries when it hears this.
 */
export const BUS_RECONNECTED_CHANNEL = 'keyport.bus.reconnected';

interface Envelope {
  /** The publishing instance, so an instance does not deliver its own message twice. */
  readonly i: string;
  readonly m: string;
}

/**
 * EventBus over Redis pub/sub: a revocation published on one instance reaches every other
 * instance as soon as Redis relays it (milliseconds). Handlers on the publishing instance run at
 * once, in-process, even while Redis is away; other instances miss what is published during an
 * outage (see BUS_RECONNECTED_CHANNEL).
 */
export class RedisBus implements EventBus {
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly instanceId = randomAlphanumeric(16);
  private readonly channelPrefix: string;
  private publishFailing = false;
  private subscriberWasReady = false;
  private lostSubscriber = false;

  /**
   * @param publisher the shared command client (`services.redis`)
   * @param subscriber a dedicated connection (`subscriberConnection()`); closed with the bus
   */
  constructor(private readonly publisher: RedisClient, private readonly subscriber: RedisClient, private readonly options: { prefix: string; logger: Logger; breaker?: CircuitBreaker }) {
    this.channelPrefix = `${options.prefix}bus:`;
    // While the circuit was open, messages were neither sent nor (on a frozen connection) received:
    // the caches look at the database before trusting what they hold, as after a reconnection.
    options.breaker?.onChange((state) => { if (state === 'closed') this.deliver(BUS_RECONNECTED_CHANNEL, ''); });
    subscriber.on('message', (channel: string, raw: string) => this.receive(channel, raw));
    subscriber.on('close', () => { this.lostSubscriber = this.subscriberWasReady; });
    subscriber.on('ready', () => {
      // Subscribing again to what is already subscribed is harmless; a subscription whose command
      // failed (see track) would otherwise stay lost until the process restarts.
      this.resubscribeAll();
      this.subscriberWasReady = true;
      if (!this.lostSubscriber) return;
      this.lostSubscriber = false;
      this.deliver(BUS_RECONNECTED_CHANNEL, '');
    });
  }

  async publish(channel: string, message: string): Promise<void> {
    this.deliver(channel, message);
    const { breaker } = this.options;
    // The circuit open: other instances learn of the change from their database sweeps.
    if (breaker && !breaker.allowsCalls) return;
    const envelope: Envelope = { i: this.instanceId, m: message };
    try {
      await this.publisher.publish(this.channelPrefix + channel, JSON.stringify(envelope));
      breaker?.succeeded();
      if (this.publishFailing) this.options.logger.info('bus: publishing to Redis again');
      this.publishFailing = false;
    } catch (err) {
      breaker?.failed(err);
      // The change itself is already stored; other instances catch up through their database sweeps.
      if (!this.publishFailing) this.options.logger.warn('bus: Redis unavailable; messages reach this instance only', { channel, reason: (err as Error).message });
      this.publishFailing = true;
    }
  }

  subscribe(channel: string, handler: (message: string) => void): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      if (channel !== BUS_RECONNECTED_CHANNEL) this.track(this.subscriber.subscribe(this.channelPrefix + channel));
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(channel);
      if (!current?.delete(handler) || current.size > 0) return;
      this.handlers.delete(channel);
      if (channel !== BUS_RECONNECTED_CHANNEL) this.track(this.subscriber.unsubscribe(this.channelPrefix + channel));
    };
  }

  /** Resolves once Redis has confirmed every subscription made so far (tests, start-up). */
  async whenSubscribed(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.subscriber.disconnect();
  }

  private resubscribeAll(): void {
    const channels = [...this.handlers.keys()].filter((channel) => channel !== BUS_RECONNECTED_CHANNEL).map((channel) => this.channelPrefix + channel);
    if (channels.length > 0) this.track(this.subscriber.subscribe(...channels));
  }

  private track(command: Promise<unknown>): void {
    const settled = command.then(() => undefined, (err: unknown) => {
      this.options.logger.warn('bus: Redis subscription failed; retrying', { reason: (err as Error).message });
      // Retried while someone still listens; the subscriber connection queues until it is back.
      const retry = setTimeout(() => { if (this.handlers.size > 0 && this.subscriber.status !== 'end') this.resubscribeAll(); }, 500);
      retry.unref();
    });
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }

  private receive(fullChannel: string, raw: string): void {
    if (!fullChannel.startsWith(this.channelPrefix)) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(raw) as Envelope;
    } catch {
      return;
    }
    if (envelope.i === this.instanceId || typeof envelope.m !== 'string') return;
    this.deliver(fullChannel.slice(this.channelPrefix.length), envelope.m);
  }

  /** A throwing handler must not break the others, nor escape into ioredis' socket callbacks. */
  private deliver(channel: string, message: string): void {
    for (const handler of [...(this.handlers.get(channel) ?? [])]) {
      try {
        handler(message);
      } catch (err) {
        this.options.logger.error('bus: a message handler failed', { channel, err });
      }
    }
  }
}
