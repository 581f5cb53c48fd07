/**
 * Micro-benchmark of the ways Node can make the ES256 signature of every token Keyport mints
 * (src/oidc/low_s_signing_key.ts): WebCrypto's `subtle.sign` (what the engine's own path uses,
 * through jose), `crypto.sign` with a callback (a sign job on libuv's thread pool, what Keyport
 * uses), and `crypto.sign` without one (on the event loop).
 *
 *   npm run build && node dist/bench/micro/es256_signing.js [--signatures 20000] [--in-flight 32]
 *
 * Per signature, with `--in-flight` of them outstanding as under load: wall time, CPU of every
 * thread (process.cpuUsage) and the event loop's busy time (performance.eventLoopUtilization),
 * which is what caps one instance's throughput.
 *
 * Measured on the shared 2-core VM (20,000 signatures, 32 in flight, two passes each):
 * WebCrypto 15–16 µs of event loop and 44–47 µs of CPU a signature; `crypto.sign` with a
 * callback 10–11 µs and 39–43 µs; without a callback 30–42 µs, all of it on the event loop.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { argument } from './argv.js';

const SIGNATURES = Number(argument('--signatures') ?? 20_000);
const IN_FLIGHT = Number(argument('--in-flight') ?? 32);

async function measure(name: string, signOne: () => Promise<unknown>): Promise<void> {
  let started = 0;
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const loopStart = performance.eventLoopUtilization();
  async function lane(): Promise<void> {
    while (started < SIGNATURES) {
      started += 1;
      await signOne();
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const cpu = process.cpuUsage(cpuStart);
  const loop = performance.eventLoopUtilization(loopStart);
  const perSignature = (value: number): string => (value / SIGNATURES).toFixed(1).padStart(6);
  console.log(`${name.padEnd(28)} wall ${perSignature((performance.now() - wallStart) * 1000)} µs   CPU (all threads) ${perSignature(cpu.user + cpu.system)} µs   event loop ${perSignature(loop.active * 1000)} µs`);
}

async function main(): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const keyObject: KeyObject = createPrivateKey({ key: jwk, format: 'jwk' });
  const cryptoKey = await webcrypto.subtle.importKey('jwk', jwk as webcrypto.JsonWebKey, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const data = randomBytes(300);
  const options = { key: keyObject, dsaEncoding: 'ieee-p1363' as const };

  for (let pass = 1; pass <= 2; pass += 1) {
    console.log(`pass ${pass}: ${SIGNATURES} signatures, ${IN_FLIGHT} in flight`);
    await measure('WebCrypto subtle.sign', () => webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, cryptoKey, data));
    await measure('crypto.sign with a callback', () => new Promise((resolve, reject) => {
      sign('sha256', data, options, (err, signature) => (err ? reject(err) : resolve(signature)));
    }));
    await measure('crypto.sign on the loop', async () => sign('sha256', data, options));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
