import { LessThan, MoreThanOrEqual, type DataSource, type Repository } from 'typeorm';
import { BatchLoader } from '../../lib/batch_loader.js';
import type { RevocationRow, RevocationRows } from '../../oidc/revocations.js';
import { TokenRevocation } from '../entities/token_revocation.js';
import { compile, param, SqlRunner, StatementsByCount } from './sql.js';
import { dateFromDb } from './values.js';

/** Values per batched read. */
const MAX_BATCH_VALUES = 500;

interface RawRevocation {
  kind: unknown;
  value: unknown;
  revokedAt: unknown;
  expiresAt: unknown;
}

/**
 * `token_revocations`, for the revocation registry (src/oidc/revocations.ts). The per-check read is
 * compiled once per value count and batched; writes, the sweep and the clean-up use TypeORM's
 * repository.
 */
export class TokenRevocationTable implements RevocationRows {
  private readonly rows: Repository<TokenRevocation>;
  private readonly runner: SqlRunner;
  /** The batched read by number of values (1 to MAX_BATCH_VALUES). */
  private readonly selectByValues: StatementsByCount;
  /**
   * Reads of whole checks (each a few values), up to MAX_BATCH_VALUES values per query, one query
   * in flight at a time (BatchLoader `serial`): every read of a batch gets the batch's rows.
   */
  private readonly reads: BatchLoader<readonly string[], readonly RevocationRow[]>;

  constructor(dataSource: DataSource) {
    this.rows = dataSource.getRepository(TokenRevocation);
    this.runner = new SqlRunner(dataSource);
    this.selectByValues = new StatementsByCount((count) => {
      const names = Array.from({ length: count }, (_, index) => `value${index}`);
      return compile(
        this.runner.builder.selectFrom('token_revocations').select(['kind', 'value', 'revokedAt', 'expiresAt']).where('value', 'in', names.map(param)),
        names,
      );
    });
    this.reads = new BatchLoader({
      dispatch: 'serial',
      maxBatch: MAX_BATCH_VALUES,
      weight: (values) => values.length,
      runBatch: async (reads) => {
        const values = [...new Set(reads.flat())];
        const raw = await this.runner.query<RawRevocation>(this.selectByValues.for(values.length), values);
        const rows = raw.map((row): RevocationRow => ({ kind: String(row.kind), value: String(row.value), revokedAt: dateFromDb(row.revokedAt)!, expiresAt: dateFromDb(row.expiresAt)! }));
        return reads.map(() => rows);
      },
    });
  }

  async upsert(row: RevocationRow): Promise<void> {
    await this.rows.upsert({ kind: row.kind, value: row.value, revokedAt: row.revokedAt, expiresAt: row.expiresAt }, ['value', 'kind']);
  }

  findByValues(values: readonly string[]): Promise<readonly RevocationRow[]> {
    return this.reads.load(values);
  }

  async revokedSince(since: Date): Promise<RevocationRow[]> {
    return this.rows.find({
      select: { kind: true, value: true, revokedAt: true, expiresAt: true },
      where: { revokedAt: MoreThanOrEqual(since) },
    });
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.rows.delete({ expiresAt: LessThan(now) });
    return result.affected ?? 0;
  }
}
