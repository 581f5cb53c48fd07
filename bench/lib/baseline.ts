import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { available, profileArgs, unavailable } from './keyport.js';
import { BARE_PROVIDER, REPO_ROOT } from './paths.js';
import { freePort, spawnServer, type ServerProcess } from './processes.js';
import type { BenchTarget } from './scenarios.js';

/** Must match bench/baseline/bare_provider.ts. */
const OPAQUE_RESOURCE = 'urn:keyport-bench:opaque';

export async function startBaseline(workDir: string, profileDir?: string): Promise<{ server: ServerProcess; target: BenchTarget }> {
  const port = await freePort();
  const client = { id: 'bench', secret: randomBytes(24).toString('base64url') };
  const server = await spawnServer({
    name: 'bare oidc-provider',
    script: BARE_PROVIDER,
    nodeArgs: profileArgs(profileDir),
    env: { PATH: process.env.PATH, PORT: String(port), BENCH_CLIENT_ID: client.id, BENCH_CLIENT_SECRET: client.secret },
    url: `http://127.0.0.1:${port}`,
    readyPath: '/.well-known/openid-configuration',
    logFile: join(workDir, 'bare_provider.log'),
    cwd: REPO_ROOT,
    timeoutMs: 30_000,
  });
  const none = unavailable('not supported by the bare engine');
  return {
    server,
    target: { kind: 'bare', url: server.url, ccClient: available(client), jwtResource: undefined, opaqueResource: available(OPAQUE_RESOURCE), apiKey: none, authCode: none },
  };
}
