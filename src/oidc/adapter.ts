import { systemClock, type Clock } from '../lib/clock.js';
import type { Adapter, AdapterPayload } from './engine/index.js';
import { CLOCK_TOLERANCE } from './policy.js';
import type { RevocationRegistry } from './revocations.js';
import { CLEAR_ID_MODELS, type TokenIds } from './token_ids.js';
import { DERIVED_FROM_KIND } from './token_lineage.js';

/** Models whose rows belong to a grant and die with it (`revokeByGrantId`). */
const GRANT_BOUND = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode'];

function shortString(value: unknown, max = 64): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : null;
}

/** The payload without the engine's id (`jti`): stored under the id's keyed hash, it must not carry the id itself. */
function withoutId(payload: AdapterPayload): AdapterPayload {
  const { jti: _jti, ...rest } = payload;
  return rest;
}

/** A row of `oidc_payloads` as written: the id is the row id (see `PayloadStore.rowId`), the payload JSON. */
export interface PayloadRow {
  readonly model: string;
  readonly id: string;
  readonly payload: string;
  readonly grantId: string | null;
  readonly uid: string | null;
  readonly userCode: string | null;
  readonly clientId: string | null;
  readonly expiresAt: Date | null;
}

/** A row of `oidc_payloads` as read back. */
export interface StoredPayload {
  readonly model: string;
  readonly id: string;
  readonly payload: string;
  readonly expiresAt: Date | null;
  readonly consumedAt: Date | null;
}

/**
 * The `oidc_payloads` table as PayloadStore needs it (implemented in src/db/stores/oidc_payloads.ts).
 * Ids here are row ids; hashing, JSON and expiry are PayloadStore's.
 */
export interface PayloadRows {
  /** Insert or replace (the row starts unconsumed). Writes of one event-loop turn share one multi-row statement. */
  upsert(row: PayloadRow): Promise<void>;
  /**
   * The row of (model, id). Reads by id are batched: the engine looks an opaque token up as
   * AccessToken, ClientCredentials and RefreshToken at once (introspection, revocation, userinfo),
   * and concurrent requests do the same, so reads go to the database as one
   * `id IN (…) AND model IN (…)` query, one in flight at a time (a read never joins a query sent
   * before it was asked, so it sees every write committed before).
   */
  findById(model: string, id: string): Promise<StoredPayload | undefined>;
  findBy(model: string, column: 'uid' | 'userCode', value: string): Promise<StoredPayload | undefined>;
  /** Only the expiry and consumption of a row (one light read). */
  usage(model: string, id: string): Promise<{ expiresAt: Date | null; consumedAt: Date | null } | undefined>;
  consume(model: string, id: string, at: Date): Promise<void>;
  delete(model: string, id: string): Promise<void>;
  deleteByGrant(model: string, grantId: string): Promise<void>;
  deleteGrantFamily(grantId: string, models: readonly string[]): Promise<void>;
  deleteByClient(clientId: string): Promise<number>;
  deleteExpired(now: Date): Promise<number>;
}

/**
 * The table behind every oidc-provider model (one row per model instance in `oidc_payloads`,
 * through `PayloadRows`). Expiry is honoured on read and expired rows are deleted by
 * `deleteExpired`.
 *
 * Row ids are keyed hashes of the engine's ids (see CLEAR_ID_MODELS for the two exceptions), and
 * the payload is stored without its `jti`: every lookup by id hashes the id it is given and puts it
 * back into the payload it returns. Everything that reads these rows goes through here (`rowId`).
 */
export class PayloadStore {
  constructor(
    private readonly rows: PayloadRows,
    private readonly revocations: RevocationRegistry,
    /** How long a grant revocation must be remembered for JWT access tokens of that grant. */
    private readonly maxAccessTokenTtl: number,
    private readonly ids: TokenIds,
    private readonly clock: Clock = systemClock,
  ) {}

  adapterFor(model: string): Adapter {
    return new TypeormAdapter(model, this);
  }

  /**
   * Every engine write (tokens, sessions, grants, codes…): no read first, and the writes of one
   * event-loop turn go out as one multi-row upsert (a new API-key session saves its grant and its
   * refresh token in the same turn, and concurrent requests add theirs; see BatchLoader for the
   * measured cost per statement).
   */
  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const expiresAt = typeof expiresIn === 'number' ? new Date(this.clock.now() + (expiresIn + CLOCK_TOLERANCE) * 1000) : null;
    const hashed = !CLEAR_ID_MODELS.has(model);
    await this.rows.upsert({
      model,
      id: hashed ? this.ids.rowId(id) : id,
      payload: JSON.stringify(hashed ? withoutId(payload) : payload),
      grantId: GRANT_BOUND.includes(model) ? shortString(payload.grantId) : null,
      uid: model === 'Session' ? shortString(payload.uid) : null,
      userCode: shortString(payload.userCode),
      clientId: shortString(payload.clientId),
      expiresAt,
    });
  }

  /** The payload of a model instance (unexpired); reads by id are batched (PayloadRows.findById). */
  async find(model: string, where: { id: string } | { uid: string } | { userCode: string }): Promise<AdapterPayload | undefined> {
    if ('id' in where) {
      const row = await this.rows.findById(model, this.rowId(model, where.id));
      return row ? this.toPayload(row, where.id) : undefined;
    }
    const row = 'uid' in where ? await this.rows.findBy(model, 'uid', where.uid) : await this.rows.findBy(model, 'userCode', where.userCode);
    return row ? this.toPayload(row) : undefined;
  }

  /** The row id of an engine id: derived from its keyed hash (TokenIds.rowId), except for CLEAR_ID_MODELS. */
  rowId(model: string, id: string): string {
    return CLEAR_ID_MODELS.has(model) ? id : this.ids.rowId(id);
  }

  /** The stored payload, with the engine id put back (`id`: the one it was looked up by; rows found by uid keep theirs). */
  private toPayload(row: StoredPayload, id?: string): AdapterPayload | undefined {
    if (row.expiresAt && row.expiresAt.getTime() <= this.clock.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (id !== undefined && !CLEAR_ID_MODELS.has(row.model)) payload.jti = id;
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
    const row = await this.rows.usage(model, this.rowId(model, id));
    if (!row || row.consumedAt !== null) return false;
    if (row.expiresAt === null) return true;
    // The column carries the clock tolerance on top of the engine's own expiry.
    return row.expiresAt.getTime() - CLOCK_TOLERANCE * 1000 > this.clock.now();
  }

  async consume(model: string, id: string): Promise<void> {
    await this.rows.consume(model, this.rowId(model, id), new Date(this.clock.now()));
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.rows.delete(model, this.rowId(model, id));
    // The engine destroys an opaque access token only when it is revoked: tokens exchanged from it
    // go too (token_lineage.ts), as they do when a JWT is revoked (AccessTokenService.revoke). Their
    // lineage names it by its keyed hash.
    if (model === 'AccessToken' || model === 'ClientCredentials') {
      await this.revocations.revoke({ kind: DERIVED_FROM_KIND, value: this.ids.hash(id) }, this.registryHorizon());
    }
  }

  /** Registry rows about access tokens must outlive every access token they could match. */
  private registryHorizon(): Date {
    return new Date(this.clock.now() + (this.maxAccessTokenTtl + CLOCK_TOLERANCE) * 1000);
  }

  async revokeByGrantId(model: string, grantId: string): Promise<void> {
    // The engine revokes a grant through AccessToken first; JWT access tokens of the grant are not
    // rows here, so the registry remembers the revocation until they have all expired.
    if (model === 'AccessToken') {
      await this.revocations.revoke({ kind: 'grant', value: grantId }, this.registryHorizon());
    }
    await this.rows.deleteByGrant(model, grantId);
  }

  /** A deleted client's tokens, codes and grants go with it. */
  async deleteByClient(clientId: string): Promise<number> {
    return this.rows.deleteByClient(clientId);
  }

  /** The family of a grant, without the grant itself (the engine's behaviour when an access token is revoked). */
  async deleteGrantFamily(grantId: string): Promise<void> {
    await this.rows.deleteGrantFamily(grantId, GRANT_BOUND);
  }

  async deleteExpired(now = new Date(this.clock.now())): Promise<number> {
    return this.rows.deleteExpired(now);
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
