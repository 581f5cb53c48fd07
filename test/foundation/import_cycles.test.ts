import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = join(REPO_ROOT, 'src');

type Token = { kind: 'word' | 'string' | 'literal' | 'punct'; text: string };

/** Words after which a `/` starts a regular expression rather than a division. */
const BEFORE_EXPRESSION = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'instanceof', 'await', 'yield']);

/**
 * TypeScript source as words, string literals and punctuation, with comments, template literals and
 * regular expressions skipped, so that text that merely looks like an import (in a comment, a string,
 * a template) is not taken for one. The `typescript` package here is the native compiler (7.x),
 * whose JavaScript API is still `unstable/*`; this tokenizer is enough for finding module specifiers.
 */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const templates: number[] = []; // brace depth at each open `${`
  let depth = 0;
  let i = 0;
  const skipTemplate = (): void => {
    // from just after a backtick or a `${…}`'s closing brace to the template's end or next `${`
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') i += 2;
      else if (c === '`') {
        i++;
        out.push({ kind: 'literal', text: '`' });
        return;
      } else if (c === '$' && text[i + 1] === '{') {
        i += 2;
        templates.push(depth);
        depth++;
        return;
      } else i++;
    }
  };
  const regexAllowed = (): boolean => {
    const previous = out.at(-1);
    if (previous === undefined) return true;
    if (previous.kind === 'word') return BEFORE_EXPRESSION.has(previous.text);
    if (previous.kind !== 'punct') return false;
    return previous.text !== ')' && previous.text !== ']' && previous.text !== '}';
  };
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '/' && text[i + 1] === '/') i = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i);
    else if (c === '/' && text[i + 1] === '*') i = text.indexOf('*/', i + 2) === -1 ? text.length : text.indexOf('*/', i + 2) + 2;
    else if (c === "'" || c === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') i++;
        value += text[i];
        i++;
      }
      i++;
      out.push({ kind: 'string', text: value });
    } else if (c === '`') {
      i++;
      skipTemplate();
    } else if (c === '{') {
      depth++;
      i++;
      out.push({ kind: 'punct', text: c });
    } else if (c === '}') {
      depth--;
      i++;
      if (templates.length > 0 && templates.at(-1) === depth) {
        templates.pop();
        skipTemplate();
      } else out.push({ kind: 'punct', text: c });
    } else if (c === '/' && regexAllowed()) {
      let inClass = false;
      i++;
      while (i < text.length && (text[i] !== '/' || inClass)) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') inClass = true;
        else if (text[i] === ']') inClass = false;
        i++;
      }
      i++;
      while (i < text.length && /[a-z]/.test(text[i]!)) i++;
      out.push({ kind: 'literal', text: '/regex/' });
    } else if (/[\w$]/.test(c)) {
      const start = i;
      while (i < text.length && /[\w$.]/.test(text[i]!) && !(text[i] === '.' && !/^\d/.test(text.slice(start, i)))) i++;
      out.push({ kind: 'word', text: text.slice(start, i) });
    } else {
      i++;
      out.push({ kind: 'punct', text: c });
    }
  }
  return out;
}

/**
 * The relative modules a source file depends on statically: `import`, `import type`, side-effect
 * `import '…'`, `export … from` (also `export type`), and `declare module '…'` augmentations. Any
 * `import('…')` is left out on purpose: as a call it loads lazily (the CLI's narrow imports,
 * test/cli/narrow_imports.test.ts); src/ uses the type form only beside such a call.
 */
function staticImportsOf(text: string): string[] {
  const tokens = tokenize(text);
  const found: string[] = [];
  const at = (k: number): Token | undefined => tokens[k];
  const isWord = (k: number, word: string): boolean => at(k)?.kind === 'word' && at(k)?.text === word;
  const isPunct = (k: number, punct: string): boolean => at(k)?.kind === 'punct' && at(k)?.text === punct;
  /** The specifier of `from '…'` at or after k, skipping one `{…}` clause; undefined if the statement has none. */
  const fromAfter = (k: number): string | undefined => {
    if (isPunct(k, '{')) {
      while (k < tokens.length && !isPunct(k, '}')) k++;
      k++;
    } else {
      while (k < tokens.length && !isWord(k, 'from') && !isPunct(k, ';') && !isPunct(k, '=')) k++;
    }
    return isWord(k, 'from') && at(k + 1)?.kind === 'string' ? at(k + 1)!.text : undefined;
  };
  for (let k = 0; k < tokens.length; k++) {
    if (isPunct(k - 1, '.')) continue;
    let specifier: string | undefined;
    if (isWord(k, 'import') && !isPunct(k + 1, '(') && !isPunct(k + 1, '.')) {
      specifier = at(k + 1)?.kind === 'string' ? at(k + 1)!.text : fromAfter(isWord(k + 1, 'type') && isPunct(k + 2, '{') ? k + 2 : k + 1);
    } else if (isWord(k, 'export')) {
      let clause = isWord(k + 1, 'type') ? k + 2 : k + 1;
      if (isPunct(clause, '*')) {
        clause++;
        if (isWord(clause, 'as')) clause += 2;
        specifier = isWord(clause, 'from') && at(clause + 1)?.kind === 'string' ? at(clause + 1)!.text : undefined;
      } else if (isPunct(clause, '{')) specifier = fromAfter(clause);
    } else if (isWord(k, 'declare') && isWord(k + 1, 'module') && at(k + 2)?.kind === 'string') {
      specifier = at(k + 2)!.text;
    }
    if (specifier?.startsWith('.')) found.push(specifier);
  }
  return found;
}

/** src-relative module path (posix, `.ts`) → the src modules it imports. */
function importGraph(files: Map<string, string>): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [file, text] of files) {
    const targets = new Set<string>();
    for (const specifier of staticImportsOf(text)) {
      const target = posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
      if (files.has(target)) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** One cycle per strongly connected component of more than one module (or a module importing itself). */
function cyclesOf(graph: Map<string, Set<string>>): string[][] {
  // Tarjan's algorithm, iterative enough for src/'s depth; then a shortest way back to each
  // component's first module, so the failure names a concrete chain of imports to cut.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);

  return components.map((component) => {
    const members = new Set(component);
    const start = component[0]!;
    const cameFrom = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of [...(graph.get(v) ?? [])].sort()) {
        if (!members.has(w)) continue;
        if (w === start) {
          const chain = [v];
          while (chain[0] !== start) chain.unshift(cameFrom.get(chain[0]!)!);
          return [...chain, start];
        }
        if (!cameFrom.has(w)) {
          cameFrom.set(w, v);
          queue.push(w);
        }
      }
    }
    return component;
  });
}

function sourceFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(SRC, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue;
    files.set(relative(SRC, join(SRC, entry)).split(sep).join('/'), readFileSync(join(SRC, entry), 'utf8'));
  }
  return files;
}

describe('foundation: src/ has no import cycles (CONTRIBUTING.md, docs/architecture.md)', () => {
  it('counts import, import type, export … from and augmentations, not import() nor look-alikes', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import C, { type D } from './c.js';",
      "import * as E from './e.js';",
      "import './side_effect.js';",
      "export { f } from './f.js';",
      "export type * from './g.js';",
      "export * as h from './h.js';",
      "export type { I } from './i.js';",
      "export { local };",
      "export const fromNowhere = 1;",
      "import { readFileSync } from 'node:fs';",
      "declare module './j.js' { interface J {} }",
      "const lazy = () => import('./lazy.js');",
      "type Lazy = typeof import('./lazy_type.js').value;",
      "// import { commented } from './commented.js';",
      "/* export * from './block_comment.js'; */",
      "const s = \"import { x } from './in_string.js'\";",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text with a template literal, on purpose
      "const t = `${s} import { y } from './in_template.js' ${`nested ${s}`}`;",
      "const r = /from '.\\/in_regex.js'/;",
      "const meta = import.meta.url;",
      "import { k } from './k.js';",
    ].join('\n');
    expect(staticImportsOf(text)).to.deep.equal(['./a.js', './b.js', './c.js', './e.js', './side_effect.js', './f.js', './g.js', './h.js', './i.js', './j.js', './k.js']);
  });

  it('finds a cycle made of type-only imports and names its chain', () => {
    const graph = importGraph(
      new Map([
        ['http/context.ts', "import type { Services } from '../container.js';"],
        ['container.ts', "import { oidc } from './oidc/services.js';"],
        ['oidc/services.ts', "import type { Middleware } from '../http/context.js';"],
        ['leaf.ts', "const later = () => import('./container.js');"],
      ]),
    );
    expect(cyclesOf(graph)).to.deep.equal([['container.ts', 'oidc/services.ts', 'http/context.ts', 'container.ts']]);
  });

  it('src/**/*.ts: no module reaches itself through static imports', () => {
    const files = sourceFiles();
    expect(files.size).to.be.greaterThan(100);
    const cycles = cyclesOf(importGraph(files));
    const report = cycles.map((cycle) => `  ${cycle.join(' → ')}`).join('\n');
    expect(cycles, `import cycles in src/ (move the shared types to a leaf module; see CONTRIBUTING.md):\n${report}`).to.deep.equal([]);
  });
});
