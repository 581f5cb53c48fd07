import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** Where the data lives: an embedded SQLite file (the default) or a MySQL/MariaDB server. */
export type DatabaseTarget =
  | { readonly type: 'sqlite'; readonly path: string }
  | { readonly type: 'mysql'; readonly url: string; readonly database: string };

/** Parses `sqlite:PATH` (PATH may be `:memory:`) or `mysql://user:pass@host:port/db`. */
export function parseDatabaseUrl(raw: string, cwd: string): DatabaseTarget {
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length);
    if (path === '') throw new ConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:./data/keyport.db');
    return { type: 'sqlite', path: path === ':memory:' ? path : resolve(cwd, path) };
  }
  if (raw.startsWith('mysql://') || raw.startsWith('mariadb://')) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid mysql:// URL');
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!url.hostname || !database) {
      throw new ConfigError('DATABASE_URL', 'must name a host and a database, e.g. mysql://user:pass@127.0.0.1:3306/keyport');
    }
    url.protocol = 'mysql:';
    return { type: 'mysql', url: url.toString(), database };
  }
  throw new ConfigError('DATABASE_URL', 'must start with sqlite: or mysql://');
}
