import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { IsNull, type DataSource, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { driverErrorCode } from '../db/driver_errors.js';
import { SigningKey } from '../db/entities/signing_key.js';
import { runInTransaction } from '../db/transaction.js';
import { decrypt, encrypt } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import { SIGNING_ALG } from './policy.js';

/** The fixed id of the first key: two instances starting together cannot both create one. */
export const INITIAL_KEY_ID = 'sig_initial';

/** Bus channel: a new signing key was added (the message is its kid); every instance rebuilds its provider. */
export const SIGNING_KEYS_CHANNEL = 'keyport.signing-keys';

export interface KeyRing {
  /** Private JWKs for the engine: the signing key first (the engine signs ID tokens with the first match). */
  readonly privateJwks: JWK[];
  /** What `/oauth/jwks` publishes. */
  readonly publicJwks: JWK[];
  /** kid of the key that signs new tokens. */
  readonly signingKid: string;
  /** Changes whenever the published set or the signing key changes. */
  readonly fingerprint: string;
}

export interface SigningKeySummary {
  id: string;
  kid: string;
  alg: string;
  created_at: string;
  retired_at: string | null;
  /** When the key leaves the JWKS (retired keys only). */
  published_until: string | null;
  status: 'signing' | 'published' | 'expired';
}

export class SigningKeyDecryptionError extends Error {
  constructor(kid: string, cause: unknown) {
    super(`signing key ${kid} cannot be decrypted: KEYPORT_SECRET differs from the one it was created with`, { cause });
    this.name = 'SigningKeyDecryptionError';
  }
}

function isDuplicateKey(err: unknown): boolean {
  const code = driverErrorCode(err);
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT';
}

/**
 * Token-signing keys, stored in the database (private halves encrypted with a key derived from
 * KEYPORT_SECRET) and shared by every instance. The newest un-retired key signs; retired keys stay
 * published for `retentionSeconds` so tokens they signed keep verifying until they expire.
 */
export class SigningKeyStore {
  private readonly keys: Repository<SigningKey>;

  constructor(dataSource: DataSource, private readonly encryptionKey: Buffer, private readonly retentionSeconds: number) {
    this.keys = dataSource.getRepository(SigningKey);
  }

  /** Creates the first key when there is none. Safe when several instances start at once. */
  async ensureInitialKey(): Promise<void> {
    if (await this.keys.exists()) return;
    try {
      await this.keys.insert(await this.generate(INITIAL_KEY_ID) as QueryDeepPartialEntity<SigningKey>);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /**
   * Adds a new signing key and retires the current one(s), in one transaction. Running instances
   * pick the new key up on their next reload (bus message or periodic check).
   */
  async rotate(): Promise<{ key: SigningKey; retired: SigningKey[] }> {
    const key = await this.generate(newId('sig'));
    return runInTransaction(this.keys.manager.connection, async (manager) => {
      const repository = manager.getRepository(SigningKey);
      const current = await repository.findBy({ retiredAt: IsNull() });
      const now = new Date();
      for (const old of current) {
        old.retiredAt = now;
        await repository.update({ id: old.id }, { retiredAt: now });
      }
      // Strictly after the retired keys, so "newest un-retired" is unambiguous.
      key.createdAt = new Date(now.getTime() + 1000);
      await repository.insert(key as QueryDeepPartialEntity<SigningKey>);
      return { key, retired: current };
    });
  }

  /** Loads the keys that are still published, decrypting the private halves. */
  async load(now = new Date()): Promise<KeyRing> {
    const rows = await this.published(now);
    const signing = rows.find((row) => row.retiredAt === null) ?? rows[0];
    if (!signing) throw new Error('no signing key: run the server once (or keyport signing-key:rotate) to create one');
    const ordered = [signing, ...rows.filter((row) => row !== signing)];
    const privateJwks = ordered.map((row) => {
      try {
        return { ...JSON.parse(decrypt(this.encryptionKey, row.privateJwkSealed)) as JWK, kid: row.kid, alg: row.alg, use: 'sig' };
      } catch (err) {
        throw new SigningKeyDecryptionError(row.kid, err);
      }
    });
    return {
      privateJwks,
      publicJwks: ordered.map((row) => ({ ...row.publicJwk, kid: row.kid, alg: row.alg, use: 'sig' }) as JWK),
      signingKid: signing.kid,
      fingerprint: ordered.map((row) => row.kid).join(','),
    };
  }

  /** The fingerprint `load` would produce, without decrypting anything (cheap periodic check). */
  async fingerprint(now = new Date()): Promise<string> {
    const rows = await this.published(now);
    const signing = rows.find((row) => row.retiredAt === null) ?? rows[0];
    return signing ? [signing, ...rows.filter((row) => row !== signing)].map((row) => row.kid).join(',') : '';
  }

  async list(now = new Date()): Promise<SigningKeySummary[]> {
    const rows = await this.keys.find({ order: { createdAt: 'DESC', id: 'ASC' } });
    const signing = rows.find((row) => row.retiredAt === null);
    return rows.map((row) => {
      const until = row.retiredAt ? new Date(row.retiredAt.getTime() + this.retentionSeconds * 1000) : null;
      return {
        id: row.id,
        kid: row.kid,
        alg: row.alg,
        created_at: row.createdAt.toISOString(),
        retired_at: row.retiredAt?.toISOString() ?? null,
        published_until: until?.toISOString() ?? null,
        status: row === signing ? 'signing' : until && until.getTime() <= now.getTime() ? 'expired' : 'published',
      };
    });
  }

  private async published(now: Date): Promise<SigningKey[]> {
    const rows = await this.keys.find({ order: { createdAt: 'DESC', id: 'ASC' } });
    const horizon = now.getTime() - this.retentionSeconds * 1000;
    return rows.filter((row) => row.retiredAt === null || row.retiredAt.getTime() > horizon);
  }

  private async generate(id: string): Promise<SigningKey> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
    const privateJwk = privateKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk);
    return this.keys.create({
      id,
      kid,
      alg: SIGNING_ALG,
      publicJwk: publicJwk as Record<string, unknown>,
      privateJwkSealed: encrypt(this.encryptionKey, JSON.stringify(privateJwk)),
      createdAt: new Date(),
      retiredAt: null,
    });
  }
}
