import { sign, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { BatchLoader } from '../lib/batch_loader.js';
import { toLowS } from './ecdsa_low_s.js';

/** A batch sent to the thread: its distinct keys, and each signature to make as [key index, signing input]. */
export interface SigningRequest {
  readonly id: number;
  readonly keys: readonly KeyObject[];
  readonly jobs: ReadonlyArray<readonly [number, Uint8Array]>;
}

/** The thread's answer to a batch: a signature per job, in order, or why the batch failed. */
export interface SigningReply {
  readonly id: number;
  readonly signatures?: readonly Uint8Array[];
  readonly error?: string;
}

/** Where the thread reports trouble (the server's logger). */
export interface SigningThreadLog {
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

interface SigningJob {
  readonly key: KeyObject;
  readonly data: Uint8Array;
}

interface Waiting {
  readonly jobs: readonly SigningJob[];
  readonly settle: (signatures: Array<Buffer | Error> | Promise<Array<Buffer | Error>>) => void;
}

/** Signatures per message to the thread; more wait for the next one. */
const MAX_BATCH = 256;
/** Unexpected exits (or failed starts) of the thread after which signing stays on libuv's thread pool for good. */
const MAX_RESTARTS = 3;

/**
 * ES256 (SHA-256, r‖s as IEEE P1363, low-S) of `data`, as a job on libuv's thread pool: the way
 * Keyport signed before the signing thread, and its fallback (no thread, a failed batch).
 */
function signOnThreadPool(key: KeyObject, data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, (err, signature) => {
      if (err) reject(err);
      else resolve(toLowS(signature));
    });
  });
}

/**
 * One worker thread that makes the server's ES256 signatures (every JWT access token, ID token
 * and logout token), a batch per event-loop turn.
 *
 * Why not libuv's thread pool, where `crypto.sign` with a callback puts each signature: every job
 * wakes a pool thread, and with four of them on two cores the woken threads take the core from the
 * event loop (profiles: `signOneShot` ~8 % of a new-session login's event loop, most of it that
 * preemption). One thread that gets the turn's signatures in one message is woken once per batch
 * and competes with the event loop as one thread. Three A/Bs on the bench's 2 cores
 * (docs/benchmarks.md, "A signing thread"): the event loop's CPU a client-credentials token
 * × 0.75–0.77, rate × 1.14–1.27; a new-session login (one signature among three writes) within the
 * spread. With UV_THREADPOOL_SIZE=1 instead (one pool thread, for everything) the gain came and
 * went between runs, and bcrypt's ~60 ms password checks would hold every signature.
 *
 * The thread holds the process open only while a batch is out. If it exits (a crash, `close`),
 * its batches in flight are signed again on the thread pool and the next batch starts a new
 * thread; after MAX_RESTARTS unexpected exits, and after `close`, everything is signed on the
 * thread pool. A batch the thread could not sign is signed again job by job there, so each
 * caller gets its own answer.
 */
export class SigningThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private restarts = 0;
  private closed = false;
  private readonly waiting = new Map<number, Waiting>();
  // No `runOne`: BatchLoader sends a batch of one straight to it, and a lone signature belongs on
  // the thread too. A failed batch is signed again job by job here instead (onThreadPool), each
  // failure in its own job's place.
  private readonly batches = new BatchLoader<SigningJob, Buffer | Error>({
    dispatch: 'per-turn',
    maxBatch: MAX_BATCH,
    runBatch: (jobs) => this.run(jobs),
  });

  constructor(private readonly logger: SigningThreadLog) {}

  /** The low-S ES256 signature of `data` under `key`. */
  async sign(key: KeyObject, data: Uint8Array): Promise<Buffer> {
    if (!this.usable) return signOnThreadPool(key, data);
    const signature = await this.batches.load({ key, data });
    if (signature instanceof Error) throw signature;
    return signature;
  }

  /** Stops the thread (its batches in flight are signed on the thread pool); signs there from now on. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker) await worker.terminate();
  }

  private get usable(): boolean {
    return !this.closed && this.restarts < MAX_RESTARTS;
  }

  private run(jobs: readonly SigningJob[]): Promise<Array<Buffer | Error>> {
    if (!this.usable) return onThreadPool(jobs);
    let worker: Worker;
    try {
      worker = this.started();
    } catch (err) {
      this.logger.warn('could not start the signing thread; signing on the thread pool', { err });
      this.restarts += 1;
      return onThreadPool(jobs);
    }
    const keys: KeyObject[] = [];
    const keyIndex = new Map<KeyObject, number>();
    const wire = jobs.map((job): readonly [number, Uint8Array] => {
      let index = keyIndex.get(job.key);
      if (index === undefined) {
        index = keys.length;
        keys.push(job.key);
        keyIndex.set(job.key, index);
      }
      return [index, job.data];
    });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, { jobs, settle: resolve });
      if (this.waiting.size === 1) worker.ref();
      try {
        worker.postMessage({ id, keys, jobs: wire } satisfies SigningRequest);
      } catch {
        this.waiting.delete(id);
        if (this.waiting.size === 0) worker.unref();
        resolve(onThreadPool(jobs));
      }
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./signing_thread_worker.js', import.meta.url), { name: 'keyport-signing' });
    worker.unref();
    worker.on('message', (reply: SigningReply) => this.answered(worker, reply));
    // A reply that cannot be read leaves its batch unanswered: start over (its batches go to the pool).
    worker.on('messageerror', () => void worker.terminate());
    worker.on('error', (err) => this.logger.warn('the signing thread failed', { err }));
    worker.once('exit', (code) => this.exited(worker, code));
    this.worker = worker;
    return worker;
  }

  private answered(worker: Worker, reply: SigningReply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) worker.unref();
    const { signatures } = reply;
    if (signatures && signatures.length === waiting.jobs.length) {
      waiting.settle(signatures.map((signature) => Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength)));
    } else {
      this.logger.warn('the signing thread could not sign a batch; signing it on the thread pool', { reason: reply.error, signatures: waiting.jobs.length });
      waiting.settle(onThreadPool(waiting.jobs));
    }
  }

  private exited(worker: Worker, code: number): void {
    if (this.worker === worker) this.worker = undefined;
    if (!this.closed) {
      this.restarts += 1;
      this.logger.warn('the signing thread exited; its signatures in flight are made on the thread pool', { exit_code: code, restarts: this.restarts });
    }
    const stranded = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiting of stranded) waiting.settle(onThreadPool(waiting.jobs));
  }
}

/** Each job signed on the thread pool, its failure its own (an Error in its place). */
function onThreadPool(jobs: readonly SigningJob[]): Promise<Array<Buffer | Error>> {
  return Promise.all(jobs.map((job) => signOnThreadPool(job.key, job.data).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))));
}
