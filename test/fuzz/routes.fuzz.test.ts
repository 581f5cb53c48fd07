import fc from 'fast-check';
import { keyportRouters } from '../../src/app.js';
import { ROUTES } from '../../src/oidc/configuration.js';
import { requests, type Target } from './support/arbitraries.js';
import { startFuzzFixture, type FuzzFixture } from './support/fixture.js';
import { describeRequest, send, type FuzzRequest } from './support/http.js';
import { checkResponse, type Family } from './support/properties.js';
import { fuzzSettings, type FuzzSettings } from './support/settings.js';

/** Every route of Keyport's routers (/auth, /admin, /dashboard, /interaction, /healthz, /readyz, /metrics), as they declare themselves. */
function keyportTargets(): Target[] {
  const targets = new Map<string, Set<string>>();
  for (const router of keyportRouters()) {
    for (const layer of router.stack) {
      if (layer.methods.length === 0 || typeof layer.path !== 'string') continue;
      const methods = targets.get(layer.path) ?? new Set<string>();
      for (const method of layer.methods) methods.add(method);
      targets.set(layer.path, methods);
    }
  }
  return [...targets].map(([template, methods]) => ({ template, methods: [...methods].filter((method) => method.length <= 8).slice(0, 8) }));
}

/** Every engine route (including those of features Keyport leaves off), discovery, and unknown paths under /oauth/. */
function engineTargets(): Target[] {
  return [
    ...Object.values(ROUTES).map((template) => ({ template, methods: ['GET', 'POST'] })),
    // Where the login page hands back to the engine (`/oauth/authorize/:uid`).
    { template: `${ROUTES.authorization}/:uid`, methods: ['GET'] },
    { template: '/.well-known/openid-configuration', methods: ['GET'] },
    { template: '/.well-known/oauth-authorization-server', methods: ['GET'] },
    { template: '/.well-known/:rest', methods: ['GET'] },
    { template: '/oauth/:rest', methods: ['GET', 'POST'] },
  ];
}

/** Everything the request carried, as sent and as the server reads it (percent-decoded, `+` as a space). */
function sentText(request: FuzzRequest): string {
  const body = request.body?.toString('utf8') ?? '';
  return [request.path, ...Object.values(request.headers), body, decoded(request.path), decoded(body)].join('\n');
}

function decoded(text: string): string {
  return text.split(/[&?]/).map((part) => {
    try {
      return decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      return part;
    }
  }).join('\n');
}

function changedTables(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(after).filter((table) => after[table]! > before[table]!).map((table) => `${table} ${before[table]} → ${after[table]}`);
}

/**
 * Runs `settings.runs` generated requests against one family of routes. Per request: the
 * response properties (checkResponse); a refused request (4xx) created no row; /healthz still
 * answers. A failure reports the seed and path that replay it.
 */
async function fuzz(fixture: FuzzFixture, family: Family, targets: readonly Target[], settings: FuzzSettings): Promise<void> {
  const { url } = fixture.app;
  let counts = await fixture.rowCounts();
  const property = fc.asyncProperty(requests(fixture, targets), async (request) => {
    const res = await send(url, request);
    checkResponse(res, family, request.method, fixture.secrets, sentText(request));
    const after = await fixture.rowCounts();
    const created = changedTables(counts, after);
    counts = after;
    if (res.status >= 400 && created.length > 0) throw new Error(`a refused request (${res.status}) created rows: ${created.join(', ')}`);
    const health = await send(url, { method: 'GET', path: '/healthz', headers: {} }, 5000);
    if (health.status !== 200) throw new Error(`/healthz answered ${health.status} after this request`);
  });
  const details = await fc.check(property, { seed: settings.seed, numRuns: settings.runs, path: settings.path, endOnFailure: settings.path !== undefined });
  if (!details.failed) return;
  const request = details.counterexample?.[0];
  const replay = `npm run fuzz -- --seed ${details.seed} --path "${details.counterexamplePath}"`;
  throw new Error([
    `fuzz (${family} routes) failed after ${details.numRuns} requests: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
    `seed ${details.seed}, path "${details.counterexamplePath}"; replay: ${replay}`,
    `request:\n  ${request ? describeRequest(request) : '(none)'}`,
  ].join('\n'));
}

describe('fuzz: hostile requests to every route (seeded, bounded)', function () {
  const settings = fuzzSettings();
  // Generous: a request takes milliseconds; shrinking a failure takes many more.
  this.timeout(120_000 + settings.runs * 2_000);
  let fixture: FuzzFixture;
  before(async () => {
    fixture = await startFuzzFixture();
    console.log(`    fuzz: ${settings.runs} requests per family, seed ${settings.seed}${settings.randomSeed ? ' (random)' : ''}; replay with npm run fuzz -- --seed ${settings.seed}`);
  });
  after(async () => { await fixture?.app.close(); });

  it('Keyport routes: no 5xx, docs/reference.md §4 errors with the request ID, no internals or secrets, refusals write nothing, /healthz answers', async () => {
    await fuzz(fixture, 'keyport', keyportTargets(), settings);
  });

  it('engine routes under /oauth/ and /.well-known/: the same, with RFC 6749 errors', async () => {
    await fuzz(fixture, 'engine', engineTargets(), settings);
  });
});
