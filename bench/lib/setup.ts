import { randomBytes } from 'node:crypto';
import { available, cliJson, describeCliFailure, unavailable, type Available, type KeyportInstance } from './keyport.js';
import type { ScenarioId } from './options.js';
import type { BenchTarget } from './scenarios.js';

/** Where the bench's authorization-code client "redirects"; the bench reads the code from the Location header. */
export const BENCH_REDIRECT_URI = 'http://127.0.0.1/bench/callback';

const NEEDS_CLIENT: readonly ScenarioId[] = ['1', '2', '6a', '6b', '6c'];
const NEEDS_OPAQUE: readonly ScenarioId[] = ['2', '6b'];

/**
 * The audience the bench registers for opaque tokens (scenarios 2 and 6b). Keyport picks the token
 * format per resource server, so an operator gets opaque tokens exactly this way.
 */
export const BENCH_OPAQUE_AUDIENCE = 'https://opaque.bench.keyport.local';
const NEEDS_KEY: readonly ScenarioId[] = ['3', '4', '5', '6c', '7'];

const notNeeded = unavailable('not needed by the selected scenarios');

/**
 * Creates what the scenarios need through the CLI, as an operator would (docs/reference.md §6 shapes). A
 * command that does not exist yet or fails makes its scenarios "unavailable" with the reason.
 */
async function createClientCredentialsClient(instance: KeyportInstance): Promise<Available<{ id: string; secret: string }>> {
  const base = ['client:create', '--name', 'bench-cc', '--grant', 'client_credentials', '--json'];
  // With --scopes read first (what the token requests ask for); without, for builds that lack the option.
  let result = await cliJson(instance, [...base, '--scopes', 'read']);
  if (!result.ok) result = await cliJson(instance, base);
  if (!result.ok) return result;
  const { client_id: id, client_secret: secret } = result.value;
  return typeof id === 'string' && typeof secret === 'string' ? available({ id, secret }) : unavailable('client:create --json printed no client_id/client_secret');
}

/**
 * `resource:create --format opaque --scopes read`: the bench client holds `read`, and a client may
 * ask for any registered audience (the token carries the scopes both allow), so it can request it.
 */
async function createOpaqueResource(instance: KeyportInstance): Promise<Available<string>> {
  const result = await cliJson(instance, ['resource:create', '--audience', BENCH_OPAQUE_AUDIENCE, '--format', 'opaque', '--scopes', 'read', '--json']);
  if (!result.ok) return result;
  const server = result.value.resource_server as { audience?: unknown; format?: unknown } | undefined;
  if (server?.audience !== BENCH_OPAQUE_AUDIENCE || server.format !== 'opaque') return unavailable('resource:create --json did not print the opaque resource server');
  return available(BENCH_OPAQUE_AUDIENCE);
}

async function createAgentKey(instance: KeyportInstance): Promise<Available<string>> {
  const result = await cliJson(instance, ['agent:create', '--name', 'bench', '--json']);
  if (!result.ok) return result;
  const key = result.value.api_key;
  return typeof key === 'string' ? available(key) : unavailable('agent:create --json printed no api_key');
}

async function createLoginSetup(instance: KeyportInstance): Promise<BenchTarget['authCode']> {
  const client = await cliJson(instance, ['client:create', '--name', 'bench-web', '--grant', 'authorization_code', '--redirect-uri', BENCH_REDIRECT_URI, '--json']);
  if (!client.ok) return client;
  const { client_id: clientId, client_secret: clientSecret } = client.value;
  if (typeof clientId !== 'string') return unavailable('client:create --json printed no client_id');
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const password = `Bench-${randomBytes(12).toString('base64url')}`;
  // BCRYPT_ROUNDS is unset: the hash has the production cost (12), so every login pays for it.
  const args = ['user:create', '--email', email, '--password', password];
  const user = await instance.cli(args);
  if (user.code !== 0) return unavailable(describeCliFailure(args, user));
  return available({ clientId, clientSecret: typeof clientSecret === 'string' ? clientSecret : undefined, redirectUri: BENCH_REDIRECT_URI, scope: 'openid', email, password });
}

/**
 * @param opaqueResource `--opaque-resource`: an audience the operator already configured for
 *   opaque tokens (e.g. through --keyport-env); without it the bench registers its own.
 */
export async function keyportTarget(instance: KeyportInstance, scenarios: readonly ScenarioId[], opaqueResource: string | undefined): Promise<BenchTarget> {
  const wants = (ids: readonly ScenarioId[]): boolean => scenarios.some((id) => ids.includes(id));
  let opaque: Available<string> = notNeeded;
  if (opaqueResource) opaque = available(opaqueResource);
  else if (wants(NEEDS_OPAQUE)) opaque = await createOpaqueResource(instance);
  return {
    kind: 'keyport',
    url: instance.server.url,
    ccClient: wants(NEEDS_CLIENT) ? await createClientCredentialsClient(instance) : notNeeded,
    jwtResource: undefined,
    opaqueResource: opaque,
    apiKey: wants(NEEDS_KEY) ? await createAgentKey(instance) : notNeeded,
    authCode: scenarios.includes('8') ? await createLoginSetup(instance) : notNeeded,
  };
}
