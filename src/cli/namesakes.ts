import type { DataSource } from 'typeorm';

/**
 * Ids of existing rows with the same name (ignoring case and surrounding blanks, alike on SQLite and
 * MySQL), for the warning `agent:create` and `client:create` print: names are labels, not unique,
 * and a second "ci-bot" is more often a script run twice than a wish.
 */
export async function namesakes(dataSource: DataSource, table: 'agents' | 'oauth_clients', name: string, where = ''): Promise<string[]> {
  const rows = await dataSource.createQueryBuilder()
    .select('id', 'id')
    .from(table, 'row')
    .where(`LOWER(name) = :name${where ? ` AND ${where}` : ''}`, { name: name.trim().toLowerCase() })
    .orderBy('id')
    .limit(5)
    .getRawMany<{ id: string }>();
  return rows.map((row) => row.id);
}

/** The warning line, or nothing. */
export function namesakeWarning(kind: 'agent' | 'client', name: string, ids: readonly string[]): string | undefined {
  if (ids.length === 0) return undefined;
  return `warning: ${ids.length === 1 ? `another ${kind} is` : `${ids.length >= 5 ? '5 or more' : ids.length} other ${kind}s are`} already named ${JSON.stringify(name.trim())} (${ids.join(', ')}); names are labels, the id tells them apart`;
}
