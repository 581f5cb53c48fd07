/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- --profile DIR`): top
 * self-time and inclusive functions, and self time per package.
 *
 *   node dist/bench/profile_summary.js DIR [LIMIT]
 */
import { profileReport } from './lib/profile.js';

const [dir, limit] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node dist/bench/profile_summary.js DIR [LIMIT]\n');
  process.exit(2);
}
process.stdout.write(`${profileReport(dir, limit ? Number(limit) : 25)}\n`);
