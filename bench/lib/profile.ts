import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) the summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileLine {
  /** `name file:line`, paths relative to the repository (node_modules/… for dependencies). */
  readonly frame: string;
  /** Share of all samples, 0..1. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly seconds: number;
  /** Share of samples where the process did nothing (idle, waiting for I/O). */
  readonly idle: number;
  /** Where the CPU was when sampled. */
  readonly self: ProfileLine[];
  /** Share of samples with the frame anywhere on the stack (each frame counted once per sample). */
  readonly inclusive: ProfileLine[];
  /** Self time per package (`node_modules/<name>`), Keyport's own code, node internals. */
  readonly byPackage: ProfileLine[];
}

const IGNORED_INCLUSIVE = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

function frameName(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const path = frame.url.startsWith('file://') ? relative(REPO_ROOT, decodeURI(frame.url.slice('file://'.length))) : frame.url;
  return `${name} ${path}:${frame.lineNumber + 1}`;
}

function packageOf(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  if (url.includes('/dist/src/')) return 'keyport (dist/src)';
  return 'other';
}

function top(counts: Map<string, number>, total: number, limit: number): ProfileLine[] {
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([frame, n]) => ({ frame, share: n / total }));
}

/** Self and inclusive time of a profile, from its samples (each sample is one stack). */
export function summariseProfile(file: string, limit = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const samples = profile.samples ?? [];
  const total = samples.length || 1;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  const stackCache = new Map<number, string[]>();
  let idle = 0;

  const stackOf = (id: number): string[] => {
    let names = stackCache.get(id);
    if (names) return names;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = frameName(byId.get(at)!.callFrame);
      if (!IGNORED_INCLUSIVE.has(name)) seen.add(name);
    }
    names = [...seen];
    stackCache.set(id, names);
    return names;
  };

  for (const id of samples) {
    const node = byId.get(id)!;
    const name = frameName(node.callFrame);
    if (name === '(idle)') idle += 1;
    self.set(name, (self.get(name) ?? 0) + 1);
    const pkg = packageOf(node.callFrame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + 1);
    for (const frame of stackOf(id)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + 1);
  }
  return {
    file,
    seconds: (profile.endTime - profile.startTime) / 1e6,
    idle: idle / total,
    self: top(self, total, limit),
    inclusive: top(inclusive, total, limit),
    byPackage: top(packages, total, limit),
  };
}

/** Every `.cpuprofile` in `dir`, summarised as plain text. */
export function profileReport(dir: string, limit = 25): string {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).sort();
  const pct = (share: number): string => `${(share * 100).toFixed(1).padStart(5)} %`;
  const lines: string[] = [];
  for (const name of files) {
    const summary = summariseProfile(join(dir, name), limit);
    lines.push(`== ${summary.file} (${summary.seconds.toFixed(1)} s, idle ${pct(summary.idle).trim()})`);
    lines.push('-- self time', ...summary.self.map((line) => `${pct(line.share)}  ${line.frame}`));
    lines.push('-- inclusive (on the stack)', ...summary.inclusive.map((line) => `${pct(line.share)}  ${line.frame}`));
    lines.push('-- self time by package', ...summary.byPackage.map((line) => `${pct(line.share)}  ${line.frame}`));
    lines.push('');
  }
  return lines.join('\n');
}
