import type { Dialect } from './sql.js';

/*
 * Value conversion between the stores and the database, explicit and in one place. The formats
 * are those TypeORM's drivers use for the same columns, because repositories elsewhere (admin,
 * clean-up, tests) read and write the same rows:
 *
 * - `datetime` on SQLite is UTC text `YYYY-MM-DD HH:MM:SS.mmm`. It is compared as text in SQL
 *   (`expiresAt < ?`, `claimedUntil <= ?`), so every write must use exactly this form.
 * - `datetime` on MySQL is a Date both ways: mysql2 writes and reads it in UTC (the DataSource's
 *   `timezone: 'Z'`, src/db/data_source.ts).
 * - `simple-json` is JSON text on both.
 */

/** A Date (or null) as the column stores it. */
export function dateToDb(dialect: Dialect, value: Date | null | undefined): string | Date | null {
  if (value === null || value === undefined) return null;
  if (dialect === 'mysql') return value;
  // toISOString: `YYYY-MM-DDTHH:MM:SS.mmmZ`, always UTC and zero-padded.
  const iso = value.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/**
 * A stored datetime as a Date (null stays null). SQLite text may lack the `T`, the `Z` and the
 * milliseconds (rows written by SQL such as migrations' `datetime('now')`): read as UTC, as
 * TypeORM does.
 */
export function dateFromDb(raw: unknown): Date | null {
  if (raw === null || raw === undefined) return null;
  if (raw instanceof Date) return raw;
  let text = String(raw);
  if (/^\d\d\d\d-\d\d-\d\d \d\d:\d\d/.test(text)) text = text.replace(' ', 'T');
  if (/^\d\d\d\d-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d\d\d)?)?$/.test(text)) text += 'Z';
  return new Date(text);
}

/** A stored `simple-json` value, parsed (null stays null). */
export function jsonFromDb<T>(raw: unknown): T | null {
  if (raw === null || raw === undefined) return null;
  return (typeof raw === 'string' ? JSON.parse(raw) : raw) as T;
}

/** A stored integer (MySQL may hand back a string for big numbers). */
export function intFromDb(raw: unknown): number | null {
  if (raw === null || raw === undefined) return null;
  return typeof raw === 'number' ? raw : Number(raw);
}

/** A stored string column (null stays null). */
export function textFromDb(raw: unknown): string | null {
  if (raw === null || raw === undefined) return null;
  return typeof raw === 'string' ? raw : String(raw);
}
