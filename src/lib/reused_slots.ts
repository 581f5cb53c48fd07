/** Where a value sits in `ReusedSlots`, to read it or take it out again. */
export type Slot = number;

/**
 * Values held for a few milliseconds each (work in flight), in the slots of an array that lives
 * as long as its owner; an emptied slot is reused before the array grows, so it grows only to the
 * most values ever held at once.
 *
 * Why not a `Set` or a `Map` of the values: one that lives long (in V8's old generation) and takes
 * a value per request, deleting it a few milliseconds later, made V8 promote far more bytes a
 * request out of the young generation: whatever the values reach (a response's headers, its
 * request and parser state; a promise's reactions and their closures). Measured with
 * `--trace-gc`/`--trace-gc-nvp` under bench scenario 3 on MariaDB (docs/benchmarks.md):
 * - the drain's responses in flight (src/http/drain.ts): 6.3 KB promoted a new-session login with a
 *   counter, 11.7 KB with a `Set`, 6.0 KB with these slots; in a loop of short-lived objects alone,
 *   217 MB promoted counted, 444 MB in a set, 341 MB in a map, 213 MB in array slots;
 * - the exchange's single flights (src/exchange/single_flight.ts): 5.3–5.6 KB a login with a
 *   `Map` of their promises, 4.7–4.8 KB with the promises in slots (the map keeps only slot
 *   numbers), 4.5 KB with no single flight at all.
 */
export class ReusedSlots<T> {
  private readonly slots: Array<T | undefined> = [];
  /** Emptied slots, reused before the array grows. */
  private readonly free: Slot[] = [];
  private count = 0;

  add(value: T): Slot {
    const slot = this.free.pop() ?? this.slots.length;
    this.slots[slot] = value;
    this.count += 1;
    return slot;
  }

  /** What `add` put in `slot`; undefined once removed. */
  get(slot: Slot): T | undefined {
    return this.slots[slot];
  }

  /** Takes out what `add` put in `slot`; a slot already emptied is left alone. */
  remove(slot: Slot): void {
    if (this.slots[slot] === undefined) return;
    this.slots[slot] = undefined;
    this.free.push(slot);
    this.count -= 1;
  }

  get size(): number {
    return this.count;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const value of this.slots) if (value !== undefined) yield value;
  }
}
