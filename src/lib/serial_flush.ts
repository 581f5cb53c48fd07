/**
 * Schedules a batch flush for the end of the current tick, with at most one flush running at a
 * time: work that arrives while one runs waits for it and goes out with the next. Batched readers
 * (PayloadStore, RevocationRegistry) use it so concurrent reads share one query and, under load,
 * one socket write per round trip instead of one per request.
 */
export class SerialFlush {
  private scheduled = false;
  private running = false;

  /**
   * @param flush takes everything pending and writes or reads it; it settles every waiter itself
   *   (it must not reject).
   * @param hasWork whether anything is pending.
   */
  constructor(private readonly flush: () => Promise<void>, private readonly hasWork: () => boolean) {}

  /** Asks for a flush: on the next tick, or after the one running. */
  request(): void {
    if (this.scheduled || this.running || !this.hasWork()) return;
    this.scheduled = true;
    process.nextTick(() => {
      this.scheduled = false;
      this.running = true;
      void this.flush().finally(() => {
        this.running = false;
        this.request();
      });
    });
  }
}
