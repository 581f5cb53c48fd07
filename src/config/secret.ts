import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from './errors.js';

export const MIN_SECRET_LENGTH = 32;

/**
 * The root secret. In production it must come from the environment; in development it is
 * generated once into the data folder so restarts keep cookies, key hashes and signing keys valid.
 */
export function resolveSecret(fromEnv: string | undefined, production: boolean, devSecretFile: string): string {
  if (fromEnv !== undefined) {
    if (fromEnv.length < MIN_SECRET_LENGTH) {
      throw new ConfigError('KEYPORT_SECRET', `must be at least ${MIN_SECRET_LENGTH} characters (try: openssl rand -base64 48)`);
    }
    return fromEnv;
  }
  if (production) throw new ConfigError('KEYPORT_SECRET', 'is required when NODE_ENV=production (try: openssl rand -base64 48)');
  if (existsSync(devSecretFile)) return readFileSync(devSecretFile, 'utf8').trim();
  mkdirSync(dirname(devSecretFile), { recursive: true });
  const generated = randomBytes(48).toString('base64url');
  writeFileSync(devSecretFile, `${generated}\n`, { mode: 0o600 });
  chmodSync(devSecretFile, 0o600);
  return generated;
}
