/**
 * SQL statements that differ only in how many rows or values they carry (multi-row INSERTs and
 * upserts, `IN (?, ?, …)` reads), each written once per count instead of on every batch. Callers
 * bound the count (their batch size), so the cache holds at most that many statements.
 */
export class StatementsByCount {
  private readonly built = new Map<number, string>();

  constructor(private readonly build: (count: number) => string) {}

  for(count: number): string {
    let sql = this.built.get(count);
    if (sql === undefined) {
      sql = this.build(count);
      this.built.set(count, sql);
    }
    return sql;
  }
}
