import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export async function readRepoFile(path: string): Promise<string> {
  return readFile(join(ROOT, path), 'utf8');
}

// --- docker-compose.yml --------------------------------------------------------------------------

export interface ComposeService {
  image?: string;
  build?: string | { context?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | { target?: number; published?: string | number }>;
  expose?: Array<string | number>;
  volumes?: string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
}

export async function readCompose(): Promise<ComposeFile> {
  return parse(await readRepoFile('docker-compose.yml')) as ComposeFile;
}

/** A service's environment as a map, values as written (before interpolation). */
export function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((entry) => { const at = entry.indexOf('='); return [entry.slice(0, at), entry.slice(at + 1)]; }));
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value === null ? '' : String(value)]));
}

/** Compose's variable interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$`. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^}]*\})*))?\}/g, (match, name: string | undefined, operator: string | undefined, argument: string | undefined) => {
    if (match === '$$') return '$';
    const current = env[name!];
    const unset = operator?.startsWith(':') ? !current : current === undefined;
    if (operator?.endsWith('-')) return unset ? interpolate(argument ?? '', env) : current!;
    if (operator?.endsWith('?')) {
      if (unset) throw new Error(`${name}: ${argument}`);
      return current!;
    }
    return current ?? '';
  });
}

/** Host ports a service publishes (`"8443:8443"`, `"127.0.0.1:8080:80"`, long syntax). */
export function publishedPorts(service: ComposeService): Array<{ host: number; container: number }> {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry === 'object') return { host: Number(entry.published), container: Number(entry.target) };
    const parts = String(entry).split('/')[0]!.split(':');
    const container = Number(parts.at(-1));
    return { host: parts.length > 1 ? Number(parts.at(-2)) : container, container };
  });
}

// --- Dockerfile ------------------------------------------------------------------------------------

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: Record<string, string>;
  readonly stages: Stage[];
}

/** Enough of the Dockerfile grammar for these checks: comments, line continuations, stages. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      const from = image.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, arg: string) => globalArgs[arg] ?? '');
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && upper === 'ARG') {
      const [name = '', value = ''] = args.split('=');
      globalArgs[name] = value;
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args });
    }
  }
  return { globalArgs, stages };
}

export async function readDockerfile(): Promise<Dockerfile> {
  return parseDockerfile(await readRepoFile('Dockerfile'));
}

/** `COPY --from=build /app/x ./y` lines of a stage: [source in the build stage, destination]. */
export function copiesFromStage(stage: Stage, from: string): Array<{ source: string; destination: string }> {
  return stage.instructions
    .filter((instruction) => instruction.keyword === 'COPY' && new RegExp(`(^|\\s)--from=${from}(\\s|$)`).test(instruction.args))
    .map((instruction) => {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      return { source: words[0]!, destination: words[1]! };
    });
}

// --- .dockerignore ---------------------------------------------------------------------------------

/** Docker's pattern syntax: `*`, `?`, `**` (any number of directories), `!` exceptions. */
function patternToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      if (pattern[i + 2] === '/') { source += '(?:.*/)?'; i += 2; } else { source += '.*'; i += 1; }
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Whether Docker leaves `path` out of the build context (a matching directory takes its contents along). */
export function dockerIgnores(patterns: readonly string[], path: string): boolean {
  const parts = path.split('/');
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+/, '').replace(/\/+$/, '');
    const matcher = patternToRegExp(pattern);
    if (parts.some((_, i) => matcher.test(parts.slice(0, i + 1).join('/')))) ignored = !negate;
  }
  return ignored;
}

export async function readDockerignore(): Promise<string[]> {
  return (await readRepoFile('.dockerignore')).split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
}

// --- deploy/Caddyfile ------------------------------------------------------------------------------

export interface CaddySite {
  readonly address: string;
  readonly reverseProxy: string[];
}

/** Site blocks with their addresses and `reverse_proxy` upstreams (the global options block is skipped). */
export function parseCaddyfile(text: string): CaddySite[] {
  const sites: CaddySite[] = [];
  let depth = 0;
  let current: { address: string; reverseProxy: string[] } | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    if (depth === 0 && line.endsWith('{')) {
      const address = line.slice(0, -1).trim();
      current = address ? { address, reverseProxy: [] } : undefined;
      if (current) sites.push(current);
      depth = 1;
      continue;
    }
    if (line.startsWith('reverse_proxy') && current && depth === 1) current.reverseProxy.push(...line.replace(/\{$/, '').split(/\s+/).slice(1));
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    if (depth === 0) current = undefined;
  }
  return sites;
}
