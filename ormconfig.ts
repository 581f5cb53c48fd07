/**
 * The DataSource for TypeORM's own CLI (e.g. `npx typeorm migration:show -d dist/ormconfig.js`).
 * Keyport itself opens the database through src/db/database.ts with the same settings; this file
 * exists so operators can inspect migrations with the standard tool.
 */
import { loadConfig } from './src/config/config.js';
import { createDataSource } from './src/db/data_source.js';

const config = loadConfig(process.env);

export default createDataSource(config.database, { limits: config.databaseLimits, secret: config.secret });
