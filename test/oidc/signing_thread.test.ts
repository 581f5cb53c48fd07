import { execFile } from 'node:child_process';
import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { isLowS } from '../../src/oidc/ecdsa_low_s.js';
import { SigningThread } from '../../src/oidc/signing_thread.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function es256Pair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function verifies(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  return verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
}

/** What the thread logged, to see that it noticed an exit. */
function recordingLogger(): { warn(message: string, meta?: unknown): void; messages: string[] } {
  const messages: string[] = [];
  return { messages, warn: (message: string) => void messages.push(message) };
}

/** The thread's current worker (a private field: this unit's own test looks inside). */
function workerOf(thread: SigningThread): Worker | undefined {
  return (thread as unknown as { worker: Worker | undefined }).worker;
}

describe('signing thread: ES256 signatures off the event loop, a batch per turn', () => {
  const first = es256Pair();
  const second = es256Pair();

  it('signs what one turn asks, under each caller\'s own key: every signature verifies and is low-S', async () => {
    const thread = new SigningThread(recordingLogger());
    try {
      const jobs = Array.from({ length: 40 }, (_, index) => ({ pair: index % 2 === 0 ? first : second, data: Buffer.from(`signing input ${index}`) }));
      const signatures = await Promise.all(jobs.map((job) => thread.sign(job.pair.privateKey, job.data)));
      expect(workerOf(thread), 'signed on the thread').to.not.equal(undefined);
      for (const [index, job] of jobs.entries()) {
        const signature = signatures[index]!;
        expect(signature).to.have.length(64);
        expect(isLowS(signature), `signature ${index} is low-S`).to.equal(true);
        expect(verifies(job.pair.publicKey, job.data, signature), `signature ${index} verifies under its own key`).to.equal(true);
        const other = job.pair === first ? second : first;
        expect(verifies(other.publicKey, job.data, signature), `signature ${index} is not the other key's`).to.equal(false);
      }
    } finally {
      await thread.close();
    }
  });

  it('a key it cannot sign with fails only its own signature; the others of the batch are made', async () => {
    const logger = recordingLogger();
    const thread = new SigningThread(logger);
    try {
      const data = Buffer.from('payload');
      const results = await Promise.allSettled([
        thread.sign(first.privateKey, data),
        // A public key cannot sign: the batch fails on the thread and is signed again job by job.
        thread.sign(first.publicKey, data),
        thread.sign(second.privateKey, data),
      ]);
      expect(results.map((result) => result.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect(verifies(first.publicKey, data, (results[0] as PromiseFulfilledResult<Buffer>).value)).to.equal(true);
      expect(verifies(second.publicKey, data, (results[2] as PromiseFulfilledResult<Buffer>).value)).to.equal(true);
      expect(logger.messages.some((message) => message.includes('could not sign a batch')), 'the failed batch is logged').to.equal(true);
    } finally {
      await thread.close();
    }
  });

  it('a thread that exits with signatures in flight: they are made on the thread pool, and the next batch starts a new thread', async () => {
    const logger = recordingLogger();
    const thread = new SigningThread(logger);
    try {
      await thread.sign(first.privateKey, Buffer.from('warm'));
      const dying = workerOf(thread)!;
      const data = Array.from({ length: 200 }, (_, index) => Buffer.from(`in flight ${index}`));
      const inFlight = data.map((input) => thread.sign(first.privateKey, input));
      await nextTurn();
      await dying.terminate();
      const signatures = await Promise.all(inFlight);
      for (const [index, signature] of signatures.entries()) expect(verifies(first.publicKey, data[index]!, signature), `in-flight signature ${index}`).to.equal(true);
      expect(logger.messages.some((message) => message.includes('exited'))).to.equal(true);

      const after = Buffer.from('after the exit');
      expect(verifies(first.publicKey, after, await thread.sign(first.privateKey, after))).to.equal(true);
      const replacement = workerOf(thread);
      expect(replacement, 'a new thread').to.not.equal(undefined);
      expect(replacement).to.not.equal(dying);
    } finally {
      await thread.close();
    }
  });

  it('after three exits, signs on the thread pool instead of starting a thread again', async () => {
    const thread = new SigningThread(recordingLogger());
    try {
      for (let exit = 0; exit < 3; exit += 1) {
        await thread.sign(first.privateKey, Buffer.from(`round ${exit}`));
        await workerOf(thread)!.terminate();
        await nextTurn();
      }
      const data = Buffer.from('on the pool');
      expect(verifies(first.publicKey, data, await thread.sign(first.privateKey, data))).to.equal(true);
      expect(workerOf(thread), 'no thread started again').to.equal(undefined);
    } finally {
      await thread.close();
    }
  });

  it('close: what is in flight is still signed, and later signatures are made on the thread pool', async () => {
    const thread = new SigningThread(recordingLogger());
    const data = Array.from({ length: 50 }, (_, index) => Buffer.from(`draining ${index}`));
    const inFlight = data.map((input) => thread.sign(second.privateKey, input));
    await nextTurn();
    await thread.close();
    const signatures = await Promise.all(inFlight);
    for (const [index, signature] of signatures.entries()) expect(verifies(second.publicKey, data[index]!, signature), `signature ${index}`).to.equal(true);

    const later = Buffer.from('after close');
    expect(verifies(second.publicKey, later, await thread.sign(second.privateKey, later))).to.equal(true);
    expect(workerOf(thread), 'no thread after close').to.equal(undefined);
  });

  it('does not hold the process open once its signatures are made (a CLI exits by itself)', async () => {
    const module = fileURLToPath(new URL('../../src/oidc/signing_thread.js', import.meta.url));
    const script = `
      import { generateKeyPairSync, verify } from 'node:crypto';
      import { SigningThread } from ${JSON.stringify(module)};
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const thread = new SigningThread({ warn() {} });
      const signature = await thread.sign(privateKey, Buffer.from('cli'));
      console.log(verify('sha256', Buffer.from('cli'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature) ? 'signed' : 'bad signature');
    `;
    // A file, not `--input-type=module -e`: an evaluated module exits when it settles, whatever holds the loop.
    const dir = mkdtempSync(join(tmpdir(), 'keyport-signing-'));
    try {
      const file = join(dir, 'cli.mjs');
      writeFileSync(file, script);
      const { exited, stdout } = await new Promise<{ exited: boolean; stdout: string }>((resolve) => {
        const child = execFile(process.execPath, [file], { timeout: 20_000 }, (err, out) => resolve({ exited: !err, stdout: out }));
        child.stdin?.end();
      });
      expect(stdout.trim()).to.equal('signed');
      expect(exited, 'exited by itself (status 0), before the 20 s timeout').to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
