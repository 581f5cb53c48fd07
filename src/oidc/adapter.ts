import { In, LessThan, type DataSource, type Repository } from 'typeorm';
import { OidcPayload } from '../db/entities/oidc_payload.js';
import type { Adapter, AdapterPayload } from './engine.js';
import { CLOCK_TOLERANCE } from './policy.js';
import type { RevocationRegistry } from './revocations.js';

/** Models whose rows belong to a grant and die with it (`revokeByGrantId`). */
const GRANT_BOUND = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode'];

const DEADLOCK_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY']);

/** MySQL may pick a revoke-by-grant DELETE as a deadlock victim when several run at once; one retry settles it. */
async function retryOnDeadlock<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    const code = (err as { driverError?: { code?: string }; code?: string }).driverError?.code ?? (err as { code?: string }).code;
    if (!code || !DEADLOCK_CODES.has(code)) throw err;
    return operation();
  }
}

function shortString(value: unknown, max = 64): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : null;
}

/**
 * The table behind every oidc-provider model (one row per model instance in `oidc_payloads`).
 * Upsert is TypeORM's dialect-aware `upsert` (ON CONFLICT / ON DUPLICATE KEY), so SQLite and MySQL
 * behave alike; expiry is honoured on read and expired rows are deleted by `deleteExpired`.
 */
export class PayloadStore {
  private readonly rows: Repository<OidcPayload>;
  private unusedSql: string | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly revocations: RevocationRegistry,
    /** How long a grant revocation must be remembered for JWT access tokens of that grant. */
    private readonly maxAccessTokenTtl: number,
  ) {
    this.rows = dataSource.getRepository(OidcPayload);
  }

  adapterFor(model: string): Adapter {
    return new TypeormAdapter(model, this);
  }

  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const expiresAt = typeof expiresIn === 'number' ? new Date(Date.now() + (expiresIn + CLOCK_TOLERANCE) * 1000) : null;
    await this.rows.upsert({
      model,
      id,
      payload: JSON.stringify(payload),
      grantId: GRANT_BOUND.includes(model) ? shortString(payload.grantId) : null,
      uid: model === 'Session' ? shortString(payload.uid) : null,
      userCode: shortString(payload.userCode),
      clientId: shortString(payload.clientId),
      expiresAt,
      consumedAt: null,
    }, ['model', 'id']);
  }

  async find(model: string, where: { id: string } | { uid: string } | { userCode: string }): Promise<AdapterPayload | undefined> {
    const row = await this.rows.findOneBy({ model, ...where });
    if (!row) return undefined;
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumedAt) payload.consumed = Math.floor(row.consumedAt.getTime() / 1000);
    return payload;
  }

  /**
   * Whether a stored row (e.g. a refresh token) exists, has not expired and was not consumed: one
   * light read for hot paths that only need that answer (the API-key exchange asks it on every
   * repeat login).
   */
  async isUnused(model: string, id: string): Promise<boolean> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 191) return false;
    const quote = (name: string): string => this.dataSource.driver.escape(name);
    this.unusedSql ??= `SELECT ${quote('expiresAt')}, ${quote('consumedAt')} FROM ${quote('oidc_payloads')} WHERE ${quote('model')} = ? AND ${quote('id')} = ?`;
    const [row] = (await this.dataSource.query(this.unusedSql, [model, id])) as Array<{ expiresAt: unknown; consumedAt: unknown }>;
    if (!row || row.consumedAt !== null) return false;
    if (row.expiresAt === null) return true;
    const expiresAt = row.expiresAt instanceof Date ? row.expiresAt : new Date(`${String(row.expiresAt).replace(' ', 'T')}Z`);
    // The column carries the clock tolerance on top of the engine's own expiry.
    return expiresAt.getTime() - CLOCK_TOLERANCE * 1000 > Date.now();
  }

  async consume(model: string, id: string): Promise<void> {
    await this.rows.update({ model, id }, { consumedAt: new Date() });
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.rows.delete({ model, id });
  }

  async revokeByGrantId(model: string, grantId: string): Promise<void> {
    // The engine revokes a grant through AccessToken first; JWT access tokens of the grant are not
    // rows here, so the registry remembers the revocation until they have all expired.
    if (model === 'AccessToken') {
      await this.revocations.revoke({ kind: 'grant', value: grantId }, new Date(Date.now() + (this.maxAccessTokenTtl + CLOCK_TOLERANCE) * 1000));
    }
    await retryOnDeadlock(() => this.rows.delete({ model, grantId }));
  }

  /** A deleted client's tokens, codes and grants go with it. */
  async deleteByClient(clientId: string): Promise<number> {
    const result = await this.rows.delete({ clientId });
    return result.affected ?? 0;
  }

  /** The family of a grant, without the grant itself (the engine's behaviour when an access token is revoked). */
  async deleteGrantFamily(grantId: string): Promise<void> {
    await retryOnDeadlock(() => this.rows.delete({ grantId, model: In(GRANT_BOUND) }));
  }

  async deleteExpired(now = new Date()): Promise<number> {
    const result = await this.rows.delete({ expiresAt: LessThan(now) });
    return result.affected ?? 0;
  }
}

/** oidc-provider's adapter interface for one model, backed by the shared table. */
class TypeormAdapter implements Adapter {
  constructor(private readonly model: string, private readonly store: PayloadStore) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.store.upsert(this.model, id, payload, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    // Anything longer cannot be ours (and would not fit the key); treat it as unknown, not an error.
    if (typeof id !== 'string' || id.length === 0 || id.length > 191) return undefined;
    return this.store.find(this.model, { id });
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (typeof uid !== 'string' || uid.length === 0 || uid.length > 64) return undefined;
    return this.store.find(this.model, { uid });
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (typeof userCode !== 'string' || userCode.length === 0 || userCode.length > 64) return undefined;
    return this.store.find(this.model, { userCode });
  }

  async consume(id: string): Promise<void> {
    await this.store.consume(this.model, id);
  }

  async destroy(id: string): Promise<void> {
    await this.store.destroy(this.model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.store.revokeByGrantId(this.model, grantId);
  }
}
