import type { Command } from 'commander';
import { output, type CliRuntime } from '../context.js';
import { withDependencies } from '../dependencies.js';
import { table } from '../table.js';

/** `keyport signing-key:rotate | signing-key:list`. */
export function registerSigningKeys(program: Command, runtime: CliRuntime): void {
  program
    .command('signing-key:rotate')
    .description('add a new signing key; the old one stays in the JWKS until the tokens it signed have expired')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      // Publishes the new kid: instances on the Redis bus rebuild their provider at once, the others within a minute.
      const { key, keys } = await withDependencies(runtime, { publishes: true, writes: true }, async (deps) => {
        const { buildSigningKeyStore, rotateSigningKey } = await import('../../oidc/stores.js');
        const signingKeys = buildSigningKeyStore(deps);
        await signingKeys.ensureInitialKey();
        const rotated = await rotateSigningKey({ signingKeys, bus: deps.bus, audit: deps.audit });
        return { key: rotated, keys: await signingKeys.list() };
      });
      const retired = keys.filter((entry) => entry.id !== key.id && entry.status === 'published');
      output(runtime, Boolean(options.json), { key, published: keys.filter((entry) => entry.status !== 'expired') }, [
        `new signing key ${key.kid} (${key.alg})`,
        ...retired.map((entry) => `still published: ${entry.kid} until ${entry.published_until}`),
        'running instances switch to it within a minute',
      ]);
    });

  program
    .command('signing-key:list')
    .description('list signing keys and how long each stays published')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const keys = await withDependencies(runtime, {}, async (deps) => {
        const { buildSigningKeyStore } = await import('../../oidc/stores.js');
        return buildSigningKeyStore(deps).list();
      });
      output(runtime, Boolean(options.json), { keys }, keys.length
        ? table(['KID', 'ALG', 'STATUS', 'PUBLISHED UNTIL'], keys.map((key) => [key.kid, key.alg, key.status, key.published_until ?? '-']))
        : ['no signing keys yet (the server creates one on first start)']);
    });
}
