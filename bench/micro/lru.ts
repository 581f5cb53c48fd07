/**
 * Micro-benchmark of the bounded caches on the hot paths (API-key verification, introspection,
 * key states, revocation checks): the Map-based caches they had before (a Map in insertion
 * order, the oldest evicted, with or without a TTL check on read, with or without a re-insert on
 * hit) against BoundedCache (src/lib/lru.ts) and lru-cache's LRUCache used bare, at the bounds
 * in use (1 000: clients, resource servers; 10 000: key states, revocations, verified JWS, known
 * sessions; the verification cache's is VERIFICATION_CACHE_MAX_ENTRIES).
 *
 *   npm run build && node dist/bench/micro/lru.js [--seconds 1] [--json]
 *
 * get-hit: reads of present keys in a full cache, in a shuffled order over every key.
 * set-evict: writes of keys not in a full cache (each one evicts).
 *
 * Measured on the shared 2-core VM (2 s each, noisy to ±30 %): get-hit 43–82 ns BoundedCache vs
 * 72–76 ns Map at 1 000, 107–164 ns vs 132–334 ns at 10 000; set-evict 117–156 ns vs 392–435 ns
 * at 1 000, ~450 ns vs ~6 000 ns at 10 000 (evicting `keys().next()` from a Map that has seen
 * many deletions walks past the deleted slots until V8 rehashes it).
 *
 * Each implementation runs in a process of its own (`--impl N`), so call sites the others made
 * polymorphic do not slow it down.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { BoundedCache } from '../../src/lib/lru.js';
import { argument } from './argv.js';

interface Cache {
  get(key: string): unknown;
  set(key: string, value: object): void;
}

interface Result {
  name: string;
  ops: number;
  perSecond: number;
  nsPerOp: number;
}

const TTL_MS = 60_000;

/** Before: verification cache, client cache, key states (TTL judged on read, oldest insertion out, no reorder on hit). */
class MapFifoTtl implements Cache {
  private readonly slots = new Map<string, { value: object; expiresAt: number }>();
  constructor(private readonly maxEntries: number) {}
  get(key: string): unknown {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt <= Date.now()) {
      this.slots.delete(key);
      return undefined;
    }
    return slot.value;
  }
  set(key: string, value: object): void {
    this.slots.delete(key);
    while (this.slots.size >= this.maxEntries) {
      const oldest = this.slots.keys().next().value;
      if (oldest === undefined) break;
      this.slots.delete(oldest);
    }
    this.slots.set(key, { value, expiresAt: Date.now() + TTL_MS });
  }
}

/** Before: verified-JWS cache (re-insert on hit: a true LRU on a Map, no TTL). */
class MapLru implements Cache {
  private readonly entries = new Map<string, object>();
  constructor(private readonly maxEntries: number) {}
  get(key: string): unknown {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit;
  }
  set(key: string, value: object): void {
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, value);
  }
}

const implementations: Array<{ name: string; make: (max: number) => Cache }> = [
  { name: 'Map, oldest out, TTL (before)', make: (max) => new MapFifoTtl(max) },
  { name: 'Map, re-insert on hit (before)', make: (max) => new MapLru(max) },
  { name: 'BoundedCache, TTL', make: (max) => new BoundedCache<string, object>({ maxEntries: max, ttlMs: TTL_MS }) },
  { name: 'BoundedCache, no TTL', make: (max) => new BoundedCache<string, object>({ maxEntries: max }) },
  { name: 'LRUCache bare, no TTL', make: (max) => new LRUCache<string, object>({ max }) },
  { name: 'LRUCache bare, ttl', make: (max) => new LRUCache<string, object>({ max, ttl: TTL_MS }) },
];

/** Key-hash-like keys (what the verification cache is keyed by). */
function keys(count: number, salt: string): string[] {
  return Array.from({ length: count }, (_, i) => createHash('sha256').update(`${salt}${i}`).digest('hex'));
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  let seed = 42;
  for (let i = copy.length - 1; i > 0; i -= 1) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

let sink = 0;

function measure(name: string, seconds: number, run: (i: number) => void): Result {
  for (let i = 0; i < 200_000; i += 1) run(i);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const started = process.hrtime.bigint();
  let ops = 0;
  let now = started;
  while (now < deadline) {
    for (let i = 0; i < 10_000; i += 1) run(ops + i);
    ops += 10_000;
    now = process.hrtime.bigint();
  }
  const elapsed = Number(now - started) / 1e9;
  return { name, ops, perSecond: Math.round(ops / elapsed), nsPerOp: Math.round((elapsed / ops) * 1e9) };
}

/** One implementation, in this process. */
function run(impl: number, seconds: number): Result[] {
  const results: Result[] = [];
  const value = { some: 'value' };
  const { name, make } = implementations[impl]!;
  for (const size of [1_000, 10_000]) {
    const present = keys(size, 'present');
    const order = shuffled(present);
    const fresh = keys(size * 8, 'fresh');
    {
      const hits = make(size);
      for (const key of present) hits.set(key, value);
      results.push(measure(`get-hit   ${String(size).padStart(6)}  ${name}`, seconds, (i) => {
        if (hits.get(order[i % size]!) !== undefined) sink += 1;
      }));
      const evicting = make(size);
      for (const key of present) evicting.set(key, value);
      results.push(measure(`set-evict ${String(size).padStart(6)}  ${name}`, seconds, (i) => {
        evicting.set(fresh[i % fresh.length]!, value);
      }));
    }
  }
  if (sink === 0) throw new Error('no hit: the benchmark measured nothing');
  return results;
}

function main(): void {
  const seconds = Number(argument('--seconds') ?? 1);
  const impl = argument('--impl');
  if (impl !== undefined) {
    process.stdout.write(JSON.stringify(run(Number(impl), seconds)));
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const results: Result[] = implementations.flatMap((_, index) => JSON.parse(execFileSync(process.execPath, [self, '--impl', String(index), '--seconds', String(seconds)], { encoding: 'utf8' })) as Result[]);
  results.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  for (const result of results) {
    process.stdout.write(`${result.name.padEnd(56)} ${String(result.perSecond).padStart(12)} ops/s  ${String(result.nsPerOp).padStart(6)} ns/op\n`);
  }
}

main();
