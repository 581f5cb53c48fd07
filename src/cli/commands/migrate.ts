import type { Command } from 'commander';
import { output, type CliRuntime } from '../context.js';
import { withDependencies } from '../dependencies.js';

/** `keyport migrate`: run pending migrations (the server also runs them at start). */
export function registerMigrate(program: Command, runtime: CliRuntime): void {
  program
    .command('migrate')
    .description('run pending database migrations')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      // With REDIS_URL it connects to Redis too, as the server will: a deploy step that says when Redis is not reachable.
      const applied = await withDependencies(runtime, { migrate: false, publishes: true, writes: true }, async ({ database }) => {
        const migrations = await database.dataSource.runMigrations({ transaction: 'each' });
        return migrations.map((migration) => migration.name);
      });
      output(runtime, Boolean(options.json), { applied }, applied.length ? applied.map((name) => `applied ${name}`) : ['database is up to date']);
    });
}
