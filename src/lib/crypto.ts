import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** The largest multiple of 62 that fits a byte: bytes at or above it are skipped (no modulo bias). */
const ALPHANUMERIC_LIMIT = 256 - (256 % ALPHANUMERIC.length);

/**
 * `length` characters of [A-Za-z0-9] from the CSPRNG, without modulo bias (rejection sampling on
 * pooled bytes: one pool read per id instead of a randomInt() call per character).
 */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    // 62/256 of the bytes are rejected at most 3 % of the time; a few spare bytes cover it.
    const bytes = pooledRandomBytes(Math.min(256, length - out.length + 8));
    for (let i = 0; i < bytes.length && out.length < length; i += 1) {
      const byte = bytes[i]!;
      if (byte < ALPHANUMERIC_LIMIT) out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
    }
  }
  return out;
}

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/**
 * `size` bytes from the CSPRNG, served from a pool refilled 4 KiB at a time (what Node does for
 * randomUUID and randomInt): a randomBytes() call per request is a syscall each time, measurable
 * on per-request values such as the CSP nonce. A fresh buffer per refill, so bytes already handed
 * out are never overwritten or handed out twice. For small values (≤ 256 bytes).
 */
export function pooledRandomBytes(size: number): Buffer {
  if (!Number.isInteger(size) || size < 1 || size > 256) throw new RangeError('pooledRandomBytes: size must be 1..256');
  const start = takeFromPool(size);
  return pool.subarray(start, start + size);
}

/** Where the next `size` unused bytes of the pool start (refilled first when fewer are left); they count as used. */
function takeFromPool(size: number): number {
  if (poolOffset + size > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += size;
  return start;
}

/**
 * One byte from the same pool, as a number: for callers that take randomness a byte at a time
 * (ulid asks once per character of an id), where a buffer view per byte was ~2 KB of garbage an id.
 */
export function pooledRandomByte(): number {
  // Taken first: a refill replaces `pool`, and the byte must come from the pool it was taken from.
  const index = takeFromPool(1);
  return pool[index]!;
}

/** A purpose-bound 32-byte key derived from the root secret, so one leak does not open the rest. */
export function deriveKey(rootSecret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootSecret, 'keyport', purpose, 32));
}

/** Keyed SHA-256: how high-entropy secrets (API keys, client secrets) are stored. */
export function keyedHash(pepper: Buffer, value: string): string {
  return createHmac('sha256', pepper).update(value).digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * A token bound to `value` for one `purpose`: HMAC-SHA256 of `purpose:value` under `key`,
 * base64url. The CSRF tokens are these (the dashboard's forms, bound to the session token or a
 * sign-in nonce; the login and consent pages, bound to the interaction): only the holder of the
 * bound value can present it, nothing is stored, and the purpose keeps one kind from passing for
 * another under the same key.
 */
export function boundToken(key: Buffer, purpose: string, value: string): string {
  return createHmac('sha256', key).update(`${purpose}:${value}`).digest('base64url');
}

/** Whether what a client sent (anything: a form field may be missing or repeated) is the expected token, compared in constant time. */
export function matchesToken(presented: unknown, expected: string): boolean {
  return typeof presented === 'string' && constantTimeEqual(presented, expected);
}

/** `bytes` random bytes from the pool as base64url: nonces and one-off tokens that stay in the process or database. */
export function randomToken(bytes: number): string {
  return pooledRandomBytes(bytes).toString('base64url');
}

/**
 * AES-256-GCM; output is `iv.tag.ciphertext` in base64url. Used for signing keys at rest and for
 * the tokens an API-key session stores (once per login). The 96-bit IV is random from the pooled
 * CSPRNG: same randomness as randomBytes(12), without a syscall per seal (~6 µs on our VMs).
 */
export function encrypt(key: Buffer, plaintext: string): string {
  const iv = pooledRandomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url')).join('.');
}

export function decrypt(key: Buffer, sealed: string): string {
  const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
  if (!iv || !tag || !body) throw new Error('sealed value is malformed');
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
}
