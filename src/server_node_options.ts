/**
 * Node options the server process runs with: `npm start` (package.json), the Dockerfile's CMD and
 * `npm run bench` all start `dist/src/main.js` with exactly these (test/foundation/node_options.test.ts
 * checks they agree).
 *
 * `--max-old-space-size=512`: under load V8 otherwise sizes its heap for the machine (a 4 GB
 * limit on a 24 GB host, where it lets the old generation grow up to 4× its live size) and grew
 * it to ~200 MB around ~80 MB of live objects, which put the server's RSS at 290–320 MB in the
 * benchmarks. V8 grows a smaller heap more cautiously. Measured on client credentials and
 * introspection (bench, MariaDB): 512 MB kept the peak RSS at 150–165 MB (no limit: ~240 MB in the
 * same scenarios) for a modest cost in GC; 256 MB collected so often that client-credentials
 * throughput fell by a fifth. Keyport's caches are bounded (tokens, keys, clients, revocations),
 * so the live heap does not grow with the number of tokens; raise the limit (in the command) only
 * if a heap out-of-memory error says so.
 */
export const SERVER_NODE_OPTIONS: readonly string[] = ['--max-old-space-size=512'];
