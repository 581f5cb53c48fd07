import { InvalidRequest } from '../lib/errors.js';

/**
 * How deep a JSON body may nest. The deepest body Keyport takes is a client's `jwks` (object →
 * `keys` list → key → `x5c` list: 4 levels); class-transformer and class-validator walk bodies
 * recursively, and 5000 levels overflowed the stack (a 500), so the bound comes before them.
 */
export const MAX_JSON_DEPTH = 16;

/** More fields than any form has; a body of thousands of tiny fields only costs work. */
export const MAX_FORM_FIELDS = 256;

/** A UTF-16 surrogate standing alone (in a `u` regex a proper pair is one code point, not a match). */
const LONE_SURROGATE = /\p{Cs}/u;

/** Field names that would reach an object's prototype once a DTO library copies them. */
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['__proto__']);

function fieldName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

function refuseName(name: string): void {
  if (FORBIDDEN_NAMES.has(name)) throw new InvalidRequest(`Invalid request: the field name ${fieldName(name)} is not allowed.`);
}

/**
 * One pass over text that JSON.parse already accepted: nesting depth, and each object's keys
 * (JSON.parse keeps the last of two equal keys silently; two parsers reading "the" value of a
 * field differently is how checks get bypassed, so a key given twice is refused). Linear: each
 * character is looked at once, strings are skipped as a whole.
 */
function checkStructure(text: string): void {
  // An entry per open container: the keys seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charCodeAt(i);
    if (char === 0x22 /* " */) {
      let end = i + 1;
      let escaped = false;
      for (;;) {
        const inner = text.charCodeAt(end);
        if (inner === 0x5c /* \ */) { escaped = true; end += 2; continue; }
        if (inner === 0x22) break;
        end += 1;
      }
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        refuseName(key);
        if (keys.has(key)) throw new InvalidRequest(`Invalid request: ${fieldName(key)} is given twice.`);
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (char === 0x7b /* { */ || char === 0x5b /* [ */) {
      open.push(char === 0x7b ? new Set() : null);
      if (open.length > MAX_JSON_DEPTH) throw new InvalidRequest(`The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
      expectKey = char === 0x7b;
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      open.pop();
    } else if (char === 0x2c /* , */) {
      expectKey = open[open.length - 1] instanceof Set;
    }
  }
}

/**
 * Lone surrogates (`"\ud800"`) are valid JSON but no Unicode text: the JSON form of invalid
 * UTF-8. Depth is already bounded, so the walk is too.
 */
function checkStrings(value: unknown): void {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw new InvalidRequest('The request body contains a string that is not valid Unicode (a lone surrogate).');
  } else if (Array.isArray(value)) {
    for (const item of value) checkStrings(item);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      checkStrings(key);
      checkStrings(item);
    }
  }
}

/** A JSON body: an object (an empty body counts as `{}`), within the rules above. */
export function parseJsonObjectText(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequest('The request body is not valid JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequest('The request body must be a JSON object.');
  checkStructure(text);
  checkStrings(value);
  return value as Record<string, unknown>;
}

function decodeFormComponent(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest('The form body has malformed percent-encoding or bytes that are not UTF-8.');
  }
}

/**
 * An `application/x-www-form-urlencoded` body (the HTML pages). A name given several times (a
 * group of checkboxes) becomes a list; names are taken literally (no `a[b]` or `a.b` nesting).
 * Percent-encoding must decode to UTF-8: `%FF` is refused, not turned into U+FFFD.
 */
export function parseFormText(text: string): Record<string, string | string[]> {
  const fields = new Map<string, string | string[]>();
  let count = 0;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    count += 1;
    if (count > MAX_FORM_FIELDS) throw new InvalidRequest(`The form has more than ${MAX_FORM_FIELDS} fields.`);
    const equals = pair.indexOf('=');
    const name = decodeFormComponent(equals === -1 ? pair : pair.slice(0, equals));
    const value = equals === -1 ? '' : decodeFormComponent(pair.slice(equals + 1));
    refuseName(name);
    const seen = fields.get(name);
    fields.set(name, seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value]);
  }
  return Object.fromEntries(fields);
}
