/**
 * Just enough Markdown reading for the docs test: headings and their GitHub anchors,
 * links, tables, and the npm commands a page shows. Fenced code blocks are code: their
 * `# comments` are not headings and their brackets are not links, but the commands in
 * them are commands.
 */

export interface Line {
  /** 1-based line number in the file. */
  n: number;
  text: string;
  inCode: boolean;
}

export function lines(markdown: string): Line[] {
  let fence: string | undefined;
  return markdown.split(/\r?\n/).map((text, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(text);
    if (m && (fence === undefined || m[1].startsWith(fence))) {
      const opening = fence === undefined;
      fence = opening ? m[1] : undefined;
      return { n: i + 1, text, inCode: true };
    }
    return { n: i + 1, text, inCode: fence !== undefined };
  });
}

/** The text GitHub renders for a heading's source: no code ticks, emphasis or link targets. */
function rendered(source: string): string {
  return source
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*)(.*?)\1/g, '$2')
    .trim();
}

/** GitHub's heading anchor (github-slugger): lower case, punctuation dropped, each space a dash. */
export function slug(headingSource: string): string {
  return rendered(headingSource)
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

export interface Heading {
  n: number;
  level: number;
  source: string;
  anchor: string;
}

/** ATX headings outside code, with anchors made unique the way GitHub does (-1, -2, ...). */
export function headings(markdown: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  for (const line of lines(markdown)) {
    if (line.inCode) continue;
    const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line.text);
    if (!m) continue;
    const base = slug(m[2]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.push({ n: line.n, level: m[1].length, source: m[2], anchor: count === 0 ? base : `${base}-${count}` });
  }
  return out;
}

export interface Link {
  n: number;
  text: string;
  target: string;
}

/** Inline links and images outside code blocks and code spans. */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  for (const line of lines(markdown)) {
    if (line.inCode) continue;
    // Code spans are code (paired left to right), but a link's text may be one: [`src/`](src/).
    const text = line.text.replace(/`[^`]*`/g, (span, at: number, all: string) =>
      all[at - 1] === '[' || all[at + span.length] === ']' ? span : '',
    );
    for (const m of text.matchAll(/!?\[((?:[^\]`]|`[^`]*`)*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ n: line.n, text: m[1], target: m[2] });
    }
  }
  return out;
}

export interface Table {
  n: number;
  header: string[];
  rows: { n: number; cells: string[] }[];
  /** The nearest heading above the table. */
  under?: Heading;
}

function cells(row: string): string[] {
  // Split on pipes that are not escaped (`a\|b` is one cell).
  return row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

export function tables(markdown: string): Table[] {
  const all = lines(markdown);
  const hs = headings(markdown);
  const out: Table[] = [];
  for (let i = 0; i + 1 < all.length; i++) {
    const head = all[i];
    const rule = all[i + 1];
    if (head.inCode || !head.text.trim().startsWith('|') || !/^\s*\|?\s*:?-{3,}/.test(rule.text)) continue;
    const rows: Table['rows'] = [];
    let j = i + 2;
    for (; j < all.length && !all[j].inCode && all[j].text.trim().startsWith('|'); j++) {
      rows.push({ n: all[j].n, cells: cells(all[j].text) });
    }
    out.push({ n: head.n, header: cells(head.text), rows, under: [...hs].reverse().find((h) => h.n < head.n) });
    i = j - 1;
  }
  return out;
}

export interface NpmCommand {
  n: number;
  /** The package.json script it runs: `npm start` → start, `npm run kill-redis` → kill-redis. */
  script: string;
  /** The `--flags` given after `--`, for the script's own program. */
  flags: string[];
  source: string;
}

/**
 * Every `npm start`, `npm test` and `npm run <script>` on a line, in prose, code spans or
 * code blocks. A command ends at a closing code tick, a shell comment, a table pipe, or a
 * shell separator.
 */
export function npmCommands(markdown: string): NpmCommand[] {
  const out: NpmCommand[] = [];
  // A shell line ending in a backslash goes on in the next one.
  const logical: Line[] = [];
  for (const line of lines(markdown)) {
    const last = logical[logical.length - 1];
    if (last?.inCode && line.inCode && /\\\s*$/.test(last.text))
      last.text = `${last.text.replace(/\\\s*$/, '')} ${line.text.trim()}`;
    else logical.push({ ...line });
  }
  for (const line of logical) {
    for (const m of line.text.matchAll(/\bnpm (?:run ([A-Za-z0-9][\w:.-]*)|(start|test))\b/g)) {
      const script = m[1] ?? m[2];
      const rest = line.text.slice(m.index + m[0].length);
      const end = rest.search(/`|\s#|(?<!\\)\||&&|;|\|\|/);
      const args = (end >= 0 ? rest.slice(0, end) : rest).trim();
      const afterDashes = /^(?:\S+\s+)*?--(?:\s+|$)(.*)$/.exec(args);
      const flags = afterDashes ? [...afterDashes[1].matchAll(/(?:^|[\s[(=])(--[a-z][\w-]*)/g)].map((f) => f[1]) : [];
      out.push({ n: line.n, script, flags, source: `${m[0]}${end >= 0 ? rest.slice(0, end) : rest}`.trim() });
    }
  }
  return out;
}

/**
 * The long flags a help text declares: those its usage line shows, and those that start an
 * option line (`  --port N   ...`, `  -h, --help`). Flags only mentioned in a description
 * (`runs node --cpu-prof`) are not the command's own.
 */
export function helpFlags(help: string): Set<string> {
  const flags = new Set<string>();
  for (const line of help.split(/\r?\n/)) {
    if (/^\s*(?:Usage:\s*)?npm /i.test(line)) {
      for (const m of line.matchAll(/(?:^|[\s[(])(--[a-z][\w-]*)/g)) flags.add(m[1]);
      continue;
    }
    const m = /^\s+(?:-\w,\s+)?(--[a-z][\w-]*)/.exec(line);
    if (m) flags.add(m[1]);
  }
  return flags;
}
