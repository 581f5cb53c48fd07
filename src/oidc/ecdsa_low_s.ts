/**
 * ECDSA signatures are malleable: when (r, s) verifies, so does (r, n − s). A JWT therefore has
 * a twin — another token string, byte for byte different, that verifies just the same — unless
 * one of the two forms is the only one accepted. Keyport signs with the lower s (≤ n/2, as
 * Bitcoin's BIP 62 and Ethereum do) and accepts nothing else, so each signed token has exactly
 * one valid string.
 */

/** The order n of the P-256 group (FIPS 186-4 D.1.2.3). */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
/** n as 32 big-endian bytes. */
const P256_ORDER_BYTES = Buffer.from(P256_ORDER.toString(16).padStart(64, '0'), 'hex');
/** ⌊n / 2⌋, as 32 big-endian bytes: the largest s a low-S signature may have. */
const P256_HALF_ORDER = Buffer.from((P256_ORDER >> 1n).toString(16).padStart(64, '0'), 'hex');

/** An ES256 signature is r ‖ s, 32 bytes each (JWA §3.4). */
export const ES256_SIGNATURE_BYTES = 64;

/** Whether a 64-byte r ‖ s signature has the low form of s (1 ≤ s ≤ n/2). */
export function isLowS(signature: Uint8Array): boolean {
  if (signature.length !== ES256_SIGNATURE_BYTES) return false;
  const s = Buffer.from(signature.buffer, signature.byteOffset + 32, 32);
  return Buffer.compare(s, P256_HALF_ORDER) <= 0;
}

/**
 * The low-S form of a 64-byte r ‖ s signature (a copy; the same signature when it already is).
 * Every token signed goes through here, half of them with a high s, so n − s is a byte-wise
 * subtraction with borrow rather than a round trip through BigInt and hex text.
 */
export function toLowS(signature: Uint8Array): Buffer {
  const bytes = Buffer.from(signature);
  if (isLowS(bytes)) return bytes;
  let borrow = 0;
  for (let i = 31; i >= 0; i -= 1) {
    const difference = P256_ORDER_BYTES[i]! - bytes[32 + i]! - borrow;
    borrow = difference < 0 ? 1 : 0;
    bytes[32 + i] = difference & 0xff;
  }
  return bytes;
}
