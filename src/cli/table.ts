/**
 * Aligned columns under a header row, for the human form of the list commands (`--json` is the
 * form for scripts). Cells are shown on one line each: control characters in names become visible
 * escapes (`\n`, `\u001b`), so a name can neither break the table nor drive the terminal.
 */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>): string[] {
  const cells = [headers.map(visible), ...rows.map((row) => row.map(visible))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  // Two spaces between columns; no trailing blanks.
  return cells.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

/** A cell on one line: control characters (C0, DEL, C1) escaped as in JSON (`\n`, `\u001b`). */
export function visible(cell: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return cell.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => {
    const escaped = JSON.stringify(char).slice(1, -1);
    // JSON leaves DEL and C1 as they are.
    return escaped !== char ? escaped : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
