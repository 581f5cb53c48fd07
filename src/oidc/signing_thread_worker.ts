import { sign } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { toLowS } from './ecdsa_low_s.js';
import type { SigningReply, SigningRequest } from './signing_thread.js';

/**
 * The body of Keyport's signing thread (signing_thread.ts): signs each batch it is sent, one
 * signature after the other, and answers with all of them at once. ES256 over SHA-256, r‖s
 * (IEEE P1363), low-S (ecdsa_low_s.ts), exactly as the thread-pool path signs.
 */
function answer(request: SigningRequest): SigningReply {
  try {
    const signatures = request.jobs.map(([keyIndex, data]) => {
      const key = request.keys[keyIndex];
      if (!key) throw new Error(`no key ${keyIndex} in the batch`);
      return toLowS(sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }));
    });
    return { id: request.id, signatures };
  } catch (err) {
    // The caller signs the batch's jobs again one by one on the thread pool: each gets its own answer.
    return { id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (request: SigningRequest) => {
  parentPort!.postMessage(answer(request));
});
