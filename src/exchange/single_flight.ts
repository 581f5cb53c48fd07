import { ReusedSlots } from '../lib/reused_slots.js';

/**
 * Collapses concurrent calls with the same key into one: the first caller runs `work`, the others
 * get its promise. Nothing is remembered once it settles (this is not a cache).
 *
 * The promises sit in reused slots and the map keeps only slot numbers: a long-lived map of the
 * promises themselves made V8 promote ~0.7 KB more a new-session login (lib/reused_slots.ts).
 */
export class SingleFlight<T> {
  private readonly slotOf = new Map<string, number>();
  private readonly running = new ReusedSlots<Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const found = this.slotOf.get(key);
    if (found !== undefined) return this.running.get(found)!;
    // `finally` runs in a later microtask, after the slot below is taken.
    const started = work().finally(() => {
      this.slotOf.delete(key);
      this.running.remove(slot);
    });
    const slot = this.running.add(started);
    this.slotOf.set(key, slot);
    return started;
  }

  get size(): number {
    return this.slotOf.size;
  }
}
