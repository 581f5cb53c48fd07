import type { ServerResponse } from 'node:http';

/** Where a response sits in `InFlightResponses`, to take it out again. */
export type InFlightSlot = number;

/**
 * The responses a server is writing, each in a slot of an array that lives as long as the server;
 * a finished response's slot is emptied and reused.
 *
 * Why not a `Set`: the server adds every response to it and deletes it a few milliseconds later,
 * and with the set long-lived (in V8's old generation) that made V8 promote about twice as many
 * bytes a request out of the young generation: every response's headers, its request and parser
 * state. Measured with `--trace-gc` under bench scenario 3 on MariaDB: 6.3 KB promoted a
 * new-session login with a counter, 11.7 KB with the set, 6.0 KB with these slots, full GCs twice
 * as often with the set; in a loop of short-lived objects alone, 217 MB promoted counted, 444 MB
 * in a set, 213 MB in array slots. Client credentials: 312 → 219 µs of CPU a token without the set
 * (docs/benchmarks.md).
 */
export class InFlightResponses {
  private readonly slots: Array<ServerResponse | undefined> = [];
  /** Emptied slots, reused before the array grows (it grows only to the most responses ever in flight at once). */
  private readonly free: InFlightSlot[] = [];
  private count = 0;

  add(res: ServerResponse): InFlightSlot {
    const slot = this.free.pop() ?? this.slots.length;
    this.slots[slot] = res;
    this.count += 1;
    return slot;
  }

  /** Takes out the response `add` put in `slot`; a slot already emptied is left alone. */
  remove(slot: InFlightSlot): void {
    if (this.slots[slot] === undefined) return;
    this.slots[slot] = undefined;
    this.free.push(slot);
    this.count -= 1;
  }

  get size(): number {
    return this.count;
  }

  *[Symbol.iterator](): IterableIterator<ServerResponse> {
    for (const res of this.slots) if (res !== undefined) yield res;
  }
}
