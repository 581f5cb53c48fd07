/**
 * The database driver's error code (mysql2's `ER_…`, better-sqlite3's `SQLITE_…`) of an error as it
 * reaches Keyport's code: wrapped by TypeORM's QueryFailedError (`driverError`) or bare.
 */
export function driverErrorCode(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const { driverError, code } = err as { driverError?: { code?: unknown }; code?: unknown };
  const found = driverError?.code ?? code;
  return typeof found === 'string' ? found : undefined;
}
