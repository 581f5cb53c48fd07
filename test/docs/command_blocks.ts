/**
 * The shell examples of the README and the docs it sends newcomers to, as a test runs them: every
 * fenced ```sh / ```bash block, in document order, each with the line it starts on and, when the
 * lines right above it say `<!-- not-run: reason -->`, why it is not run.
 */
export interface CommandBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
  /** Set when the block is marked `<!-- not-run: … -->`; the reason must say what covers it instead. */
  readonly notRun?: string;
}

const FENCE = /^(\s*)```(\w*)\s*$/;
const NOT_RUN = /^\s*<!--\s*not-run:\s*(.+?)\s*-->\s*$/;

export function commandBlocks(markdown: string): CommandBlock[] {
  const lines = markdown.split('\n');
  const blocks: CommandBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!;
    const lang = open[2]!;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    if (lang === 'sh' || lang === 'bash') {
      // Blocks nested in a list are indented; the shell sees them as written at the margin.
      const code = lines.slice(i + 1, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n');
      let above = i - 1;
      while (above >= 0 && lines[above]!.trim() === '') above--;
      const marker = above >= 0 ? NOT_RUN.exec(lines[above]!) : null;
      blocks.push({ line: i + 1, code, ...(marker ? { notRun: marker[1]! } : {}) });
    }
    i = end;
  }
  return blocks;
}

/**
 * One bash script running the file's blocks in order in one shell (later blocks use the variables
 * earlier ones set, as a reader's shell would), stopping at the first failing command or unset
 * variable, each block announced by a `::block <file>:<line>` line so a failure names its block.
 * `rewrite` is applied to each block's text (the test's one rewrite: the port).
 */
export function scriptOf(file: string, blocks: readonly CommandBlock[], rewrite: (code: string) => string): string {
  const parts = ['set -euo pipefail'];
  for (const block of blocks) {
    if (block.notRun) continue;
    parts.push(`echo '::block ${file}:${block.line}'`, rewrite(block.code));
  }
  parts.push("echo '::all blocks ran'");
  return `${parts.join('\n')}\n`;
}
