/** The tools' plain-text tables: a header, a rule, the rows, and optionally a rule and a totals row. */

export type Cell = string | number;

export interface TableOptions {
  /** Columns aligned left (by index); the others align right, as numbers read best. Default: the first. */
  left?: readonly number[];
  /** Rows set apart below a second rule (totals). */
  footer?: ReadonlyArray<readonly Cell[]>;
}

export function renderTable(
  head: readonly string[],
  rows: ReadonlyArray<readonly Cell[]>,
  opts: TableOptions = {},
): string {
  const left = new Set(opts.left ?? [0]);
  const footer = opts.footer ?? [];
  const text = (r: readonly Cell[]) => head.map((_, i) => String(r[i] ?? ''));
  const all = [head, ...rows, ...footer].map(text);
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: readonly Cell[]) =>
    text(r)
      .map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(head), rule, ...rows.map(line), ...(footer.length ? [rule, ...footer.map(line)] : [])].join('\n');
}
