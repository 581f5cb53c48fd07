import type { Command } from 'commander';
import { output, withServices, type CliRuntime } from '../context.js';

/** `keyport migrate`: run pending migrations (the server also runs them at start). */
export function registerMigrate(program: Command, runtime: CliRuntime): void {
  program
    .command('migrate')
    .description('run pending database migrations')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const applied = await withServices(runtime, async (services) => {
        const migrations = await services.database.dataSource.runMigrations({ transaction: 'each' });
        return migrations.map((migration) => migration.name);
      }, { migrate: false });
      output(runtime, Boolean(options.json), { applied }, applied.length ? applied.map((name) => `applied ${name}`) : ['database is up to date']);
    });
}
