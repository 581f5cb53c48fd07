import { judge, judgeLarge, TARGET_STATEMENTS } from './targets.js';
import { ratioToBaseline, summarizeLarge, type LargeResult, type Row } from './results.js';
import { toMb } from './rss.js';
import type { Measurement } from './load.js';

export interface RunInfo {
  readonly command: string;
  readonly date: string;
  readonly machine: string;
  readonly cpus: number;
  readonly memoryGb: number;
  readonly node: string;
  readonly commit: string;
  readonly versions: string;
  readonly loadAverage: { readonly start: string; readonly end: string };
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  readonly quick: boolean;
  readonly databases: readonly string[];
}

const HEADERS = ['scenario', 'server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'CPU µs/req (loop)', 'DB CPU µs/req', 'peak RSS MB', '× bare', 'target', 'verdict'] as const;

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const fmtMb = (bytes: number | undefined): string => (bytes === undefined ? '?' : toMb(bytes)!.toFixed(0));

function serverLabel(row: Row): string {
  return row.server === 'keyport' ? `keyport ${row.db}` : `bare engine (memory), ${row.db} block`;
}

function failureSummary(m: Measurement): string {
  return Object.entries(m.failures).map(([what, count]) => `${what}×${count}`).join(', ');
}

/** The cells of every row, for the terminal table and the Markdown one. */
function cells(rows: readonly Row[], connections: number, quick: boolean): string[][] {
  return rows.map((row) => {
    const ratio = ratioToBaseline(row, rows);
    const { target, verdict } = judge(row, ratio, connections);
    const name = `${row.id} ${row.title}`;
    if (row.outcome.kind === 'unavailable') {
      return [name, serverLabel(row), '—', '', '', '', '', '', '', '', target, 'unavailable'];
    }
    const { measurement: m, memory, note } = row.outcome;
    return [
      note ? `${name} [${note}]` : name,
      serverLabel(row),
      fmtInt(m.perSecond),
      fmtMs(m.p50Ms),
      fmtMs(m.p99Ms),
      m.errors ? `${fmtInt(m.errors)} (${failureSummary(m)})` : '0',
      m.cpuPerRequest === undefined ? '' : `${fmtInt(m.cpuPerRequest.total)} (${fmtInt(m.cpuPerRequest.eventLoop)})`,
      m.databaseCpuPerRequest === undefined ? '' : fmtInt(m.databaseCpuPerRequest),
      fmtMb(memory.peakRss),
      ratio === undefined ? '' : ratio.toFixed(2),
      target,
      quick && verdict !== '—' ? `${verdict} (quick)` : verdict,
    ];
  });
}

/** "unavailable (reason)" lines, one per reason and server, naming the scenarios it blocks. */
export function unavailableLines(rows: readonly Row[]): string[] {
  const groups = new Map<string, string[]>();
  for (const row of rows) {
    if (row.outcome.kind !== 'unavailable') continue;
    const key = `${serverLabel(row)}\u0000${row.outcome.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), row.id]);
  }
  return [...groups].map(([key, ids]) => {
    const [server, reason] = key.split('\u0000');
    return `${ids.join(', ')} on ${server}: unavailable (${reason})`;
  });
}

/** A plain-text table for the terminal, then why the unavailable rows are unavailable. */
export function terminalTable(rows: readonly Row[], connections: number, quick: boolean): string {
  const body = cells(rows, connections, quick);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((cell, i) => (i >= 2 && i <= 8 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const missing = unavailableLines(rows);
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), ...(missing.length ? ['', ...missing] : [])].join('\n');
}

const mdCell = (text: string): string => text.replace(/\|/g, '\\|');

export function largeLines(large: readonly LargeResult[]): string[] {
  const lines: string[] = [];
  for (const result of large) {
    if (result.outcome.kind === 'unavailable') {
      lines.push(`- ${result.db}: unavailable (${result.outcome.reason})`);
      continue;
    }
    const o = result.outcome;
    lines.push(`- ${result.db}: ${fmtInt(o.minted.large)} tokens issued through HTTP in ${o.fillSeconds.toFixed(0)} s (${o.method}), ${fmtInt(o.minted.small)} to a second server with a database of its own; ${fmtInt(o.fillErrors)} failed requests in the two fills`);
    for (const entry of o.introspection) {
      const s = summarizeLarge(entry.rounds);
      lines.push(`  - ${entry.id} ${entry.title}, medians of ${entry.rounds.length} rounds: ${fmtInt(o.minted.small)} tokens → ${fmtInt(s.small.perSecond)} req/s, p50 ${fmtMs(s.small.p50Ms)} ms, p99 ${fmtMs(s.small.p99Ms)} ms; `
        + `${fmtInt(o.minted.large)} tokens → ${fmtInt(s.large.perSecond)} req/s, p50 ${fmtMs(s.large.p50Ms)} ms, p99 ${fmtMs(s.large.p99Ms)} ms; p99 ratio ${s.p99Ratio.toFixed(2)} (rounds: ${s.roundRatios.map((r) => r.toFixed(2)).join(', ')})`);
    }
    lines.push(`  - RSS after ${fmtInt(o.minted.large)} tokens: ${fmtMb(o.rssAfterFill)} MB (VmHWM ${fmtMb(o.hwmAfterFill)} MB; peak sampled over the phase ${fmtMb(o.memory.peakRss)} MB)`);
    for (const verdict of judgeLarge(result)) lines.push(`  - ${verdict}`);
  }
  return lines;
}

export function markdownReport(info: RunInfo, rows: readonly Row[], large: readonly LargeResult[], notes: readonly string[]): string {
  const table = cells(rows, info.connections, info.quick);
  const out: string[] = [
    '# Keyport benchmark results',
    '',
    info.quick ? '> **Quick mode**: a few seconds per scenario to prove the harness works. These numbers are not measurements.\n' : '',
    `- Command: \`${info.command}\``,
    `- Date: ${info.date}`,
    `- Machine: ${info.cpus} cores (${info.machine}), ${info.memoryGb.toFixed(1)} GB memory; load average ${info.loadAverage.start} at start, ${info.loadAverage.end} at end`,
    `- Software: Node ${info.node}; ${info.versions}; Keyport commit ${info.commit}`,
    `- Databases: ${info.databases.join('; ')}`,
    `- Load: autocannon in the bench process on the same host, ${info.connections} connections, ${info.warmup} s warm-up (discarded) then ${info.duration} s measured per scenario; rate limits lifted (RATE_LIMIT_DISABLED=true, per-key defaults at their maximum)`,
    '- req/s counts 2xx answers only (completed logins for scenario 8); errors are connection errors, timeouts and non-2xx answers; peak RSS is the highest VmRSS of the server process sampled every 200 ms during the scenario; CPU µs/req is the server process\'s user + system CPU time over the measured window divided by the requests it answered, all threads and, in brackets, the main thread (the event loop) alone; it is steadier than req/s when something else shares the machine; DB CPU µs/req is the same for the MySQL/MariaDB server when it runs on this machine (found by the port it listens on; empty for SQLite, which runs inside Keyport and is counted in its CPU, and for a remote server): on MySQL a request\'s work is split between the two processes, and both share the cores',
    '',
    '## Results',
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map((_, i) => (i >= 2 && i <= 8 ? '---:' : '---')).join('|')}|`,
    ...table.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
    '',
  ];
  const missing = unavailableLines(rows);
  if (missing.length) out.push('### Unavailable', '', ...missing.map((line) => `- ${line}`), '');
  const ratios = rows
    .filter((r) => r.server === 'keyport' && r.id === '1')
    .map((r) => ({ r, ratio: ratioToBaseline(r, rows) }))
    .filter((x) => x.ratio !== undefined)
    .map(({ r, ratio }) => `Keyport client credentials on ${r.db} = ${ratio!.toFixed(2)} × the bare engine`);
  const bare = rows.flatMap((r) => (r.server === 'bare' && r.id === '1' && r.outcome.kind === 'measured' ? [`${fmtInt(r.outcome.measurement.perSecond)} (${r.db} block)`] : []));
  out.push('## Baseline', '');
  out.push(bare.length
    ? `The bare oidc-provider (in-memory adapter, same client-credentials and introspection settings, its own process, running beside Keyport all along) issued ${bare.join(' and ')} client-credentials tokens/s in this run, measured in each database's block right before the Keyport row it is the reference of. ${ratios.join('; ') || 'No Keyport client-credentials row to compare.'}`
    : 'The bare engine was not measured.');
  out.push('', 'The × bare column compares each Keyport row with the same scenario on the bare engine; introspection rows (6a, 6b, 6c) are compared with the engine\'s opaque-token introspection, since the engine cannot introspect JWTs.', '');
  if (large.length) out.push('## Introspection with many live tokens (--large)', '', ...largeLines(large), '');
  out.push('## Targets', '', ...TARGET_STATEMENTS.map((t) => `- ${t}`), '');
  if (notes.length) out.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');
  return out.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n');
}
