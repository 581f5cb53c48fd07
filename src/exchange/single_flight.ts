/**
 * Collapses concurrent calls with the same key into one: the first caller runs `work`, the others
 * get its promise. Nothing is remembered once it settles (this is not a cache).
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const started = work().finally(() => { this.inFlight.delete(key); });
    this.inFlight.set(key, started);
    return started;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
