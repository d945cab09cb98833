import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_POOL } from '../../infra/cluster';
import { monthlyCost, PRICES } from '../../infra/prices';
import { SETTINGS, SETTING_KEYS, type Setting } from '../src/stack-settings';
import { USAGE as BENCH_USAGE } from '../bench/args';
import { headings, helpFlags, links, npmCommands, slug, tables } from './helpers/markdown';
import { REPO_ROOT } from './helpers/replica-process';

/**
 * The three READMEs say only what is true of the repository: their links lead somewhere,
 * the commands they show exist with the flags they show, and infra's configuration table
 * is the configuration the program accepts. Runs against the compiled dist/ (`npm test`
 * builds it first), because a command's --help is what that command prints.
 */
const READMES = ['README.md', 'infra/README.md', 'app/README.md'];
const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };

/** What a link may point at: the files git knows or would add (so not dist/ or node_modules/), and their directories. */
function repositoryPaths(): Set<string> {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && fs.existsSync(path.join(REPO_ROOT, f)));
  const paths = new Set<string>(['']);
  for (const f of files) {
    paths.add(f);
    for (let d = path.posix.dirname(f); d !== '.'; d = path.posix.dirname(d)) paths.add(d);
  }
  return paths;
}

/**
 * A command's own --help. The scripts that run a compiled program (`node dist/...js`) are
 * asked directly. `npm run bench` compiles its program only when it runs, so its help
 * is the USAGE that app/bench/main.ts prints for --help.
 */
const helpCache = new Map<string, string>();
function helpOf(script: string): string {
  if (!helpCache.has(script)) helpCache.set(script, computeHelp(script));
  return helpCache.get(script)!;
}
function computeHelp(script: string): string {
  const command = pkg.scripts[script];
  if (command === undefined) throw new Error(`no script "${script}" in package.json`);
  if (script === 'bench') {
    expect(command).toMatch(/\bnode dist\/app\/bench\/main\.js$/);
    return BENCH_USAGE;
  }
  const program = [...command.matchAll(/\bnode\s+(?:--\S+\s+)*(dist\/\S+\.js)/g)].pop()?.[1];
  if (!program)
    throw new Error(`package.json script "${script}" (${command}) runs no compiled program to ask for --help`);
  const file = path.join(REPO_ROOT, program);
  if (!fs.existsSync(file)) throw new Error(`${program} is missing: run \`npm run build\` first (npm test does)`);
  return execFileSync(process.execPath, [file, '--help'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
}

/** `npm start`, `npm test`, `npm run <script>`. */
const npmName = (script: string) => (script === 'start' || script === 'test' ? `npm ${script}` : `npm run ${script}`);

describe('the Markdown reading this test relies on', () => {
  it.each([
    ['Deploy to DigitalOcean', 'deploy-to-digitalocean'],
    ['The local stack: `npm start`', 'the-local-stack-npm-start'],
    ['Deploy to an existing cluster (kind, minikube)', 'deploy-to-an-existing-cluster-kind-minikube'],
    ['The service (`app/src`)', 'the-service-appsrc'],
    ['Data loss measured locally: everysec vs always', 'data-loss-measured-locally-everysec-vs-always'],
    ['From code: `LocalStack`', 'from-code-localstack'],
  ])('%s → #%s', (heading, anchor) => {
    expect(slug(heading)).toBe(anchor);
  });

  it('numbers repeated headings as GitHub does, and ignores # comments in code blocks', () => {
    const md = '# A\n## Options\n```bash\n# not a heading\n```\n## Options\n';
    expect(headings(md).map((h) => h.anchor)).toEqual(['a', 'options', 'options-1']);
  });

  it('finds links whose text is code, and none inside code spans or blocks', () => {
    const md = 'A ([`a.ts`](a.ts)) then `[b](b.md)` and [c](c.md#x).\n```\n[d](d.md)\n```\n';
    expect(links(md).map((l) => l.target)).toEqual(['a.ts', 'c.md#x']);
  });

  it('reads the flags given after --, across continued shell lines, up to a comment or a closing tick', () => {
    const md =
      '```bash\nnpm run experiment -- --stack s \\\n  --url u [--namespace n]   # --not-this\n```\nRun `npm start -- --port 0` or `npm run build --silent`.\n';
    expect(npmCommands(md).map((c) => [c.script, c.flags])).toEqual([
      ['experiment', ['--stack', '--url', '--namespace']],
      ['start', ['--port']],
      ['build', []],
    ]);
  });

  it('reads the flags a help text declares, not the ones its descriptions mention', () => {
    const help =
      'Usage: npm run x [-- --stack S] [--data-dir D]\n\n  --quick     runs node --cpu-prof\n  -h, --help  this text\n';
    expect([...helpFlags(help)]).toEqual(['--stack', '--data-dir', '--quick', '--help']);
  });
});

describe.each(READMES)('%s', (readme) => {
  const text = read(readme);
  const dir = path.posix.dirname(readme);

  it('every relative link and #anchor resolves', () => {
    const paths = repositoryPaths();
    const problems: string[] = [];
    for (const link of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue; // https:, mailto:
      const [target, anchor] = link.target.split('#', 2) as [string, string | undefined];
      const file = target === '' ? readme : path.posix.normalize(path.posix.join(dir, decodeURIComponent(target)));
      const where = `${readme}:${link.n} [${link.text}](${link.target})`;
      if (file.startsWith('..') || !paths.has(file.replace(/\/$/, ''))) {
        problems.push(`${where}: ${file} is not a file or directory of the repository`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!file.endsWith('.md')) {
        problems.push(`${where}: #${anchor} points into ${file}, which has no headings`);
        continue;
      }
      const anchors = headings(read(file)).map((h) => h.anchor);
      if (!anchors.includes(anchor)) {
        problems.push(`${where}: ${file} has no heading #${anchor} (its anchors: ${anchors.join(', ')})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every npm command it shows is a script, with flags its --help lists', () => {
    const problems: string[] = [];
    for (const cmd of npmCommands(text)) {
      const where = `${readme}:${cmd.n} \`${cmd.source}\``;
      if (pkg.scripts[cmd.script] === undefined) {
        problems.push(
          `${where}: package.json has no script "${cmd.script}" (it has ${Object.keys(pkg.scripts).join(', ')})`,
        );
        continue;
      }
      if (cmd.flags.length === 0) continue;
      const known = helpFlags(helpOf(cmd.script));
      for (const flag of cmd.flags) {
        if (!known.has(flag))
          problems.push(`${where}: ${flag} is not in the --help of ${npmName(cmd.script)} (${[...known].join(' ')})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("each option table lists exactly its command's --help flags", () => {
    const problems: string[] = [];
    const hs = headings(text);
    for (const table of tables(text).filter((t) => t.header[0] === 'Option')) {
      // The command is named by the nearest heading above the table that names one.
      const above = hs.filter((h) => h.n < table.n).reverse();
      const named = above.map((h) => npmCommands(h.source)[0]).find(Boolean);
      if (!named) {
        problems.push(`${readme}:${table.n}: an option table under no heading that names its npm command`);
        continue;
      }
      const documented = new Set(
        table.rows.flatMap((r) => [...r.cells[0].matchAll(/--[a-z][\w-]*/g)].map((m) => m[0])),
      );
      const known = helpFlags(helpOf(named.script));
      const where = `${readme}:${table.n} (options of \`${named.source}\`)`;
      for (const flag of documented) if (!known.has(flag)) problems.push(`${where}: ${flag} is not in its --help`);
      for (const flag of known)
        if (!documented.has(flag)) problems.push(`${where}: ${flag} is in its --help but not in the table`);
    }
    expect(problems).toEqual([]);
  });
});

describe("infra/README.md's configuration table", () => {
  const table = tables(read('infra/README.md')).find(
    (t) => t.under?.anchor === 'configuration' && t.header[0] === 'Key',
  );

  it('is there, under "Configuration"', () => {
    expect(table).toBeDefined();
  });

  it('documents exactly the chat: keys app/src/stack-settings.ts declares, in its order', () => {
    const documented = table!.rows.map((r) => /^`([^`]+)`$/.exec(r.cells[0])?.[1] ?? r.cells[0]);
    expect(documented).toEqual(SETTING_KEYS);
  });

  /** A row's cells as its declaration writes them (a pipe in a cell is written `\|`). */
  const cellsOf = (setting: Setting) => {
    const defaultCell =
      setting.defaultText ??
      (setting.required !== undefined
        ? '(required)'
        : setting.default === undefined
          ? 'unset'
          : `\`${typeof setting.default === 'string' ? setting.default : JSON.stringify(setting.default)}\``);
    return [`${setting.type}${setting.secret ? ', secret' : ''}`, defaultCell, setting.allowed.replace(/\|/g, '\\|')];
  };

  it("writes each key's type, default and allowed values as declared, and starts what it changes with the description", () => {
    const problems: string[] = [];
    for (const row of table!.rows) {
      const key = /^`([^`]+)`$/.exec(row.cells[0])?.[1];
      if (key === undefined || !(key in SETTINGS)) continue; // the test above names it
      const setting: Setting = SETTINGS[key as keyof typeof SETTINGS];
      const expected = cellsOf(setting);
      const [, ...cells] = row.cells;
      if (cells.slice(0, 3).join(' | ') !== expected.join(' | ') || !(cells[3] ?? '').startsWith(setting.description)) {
        problems.push(
          `infra/README.md:${row.n}: the row of chat:${key} should read\n` +
            `| \`${key}\` | ${expected.join(' | ')} | ${setting.description} … |`,
        );
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the cost lines, against the one price table (infra/prices.ts)', () => {
  /** What prices.ts knows, and the totals it computes for the stacks as declared by default. */
  function knownFigures(): Set<number> {
    const figures = new Set<number>([
      ...Object.values(PRICES.droplet),
      ...Object.values(PRICES.registry),
      ...Object.values(PRICES.valkey),
      PRICES.haControlPlane,
      PRICES.loadBalancer,
      PRICES.volumePerGiB,
    ]);
    const base = {
      nodes: [
        { size: DEFAULT_POOL.size, count: DEFAULT_POOL.nodeCount },
        { size: 's-2vcpu-2gb', count: 2 },
      ],
      highAvailability: false,
      loadBalancers: 1,
      registryTier: 'starter',
    };
    const stateful = monthlyCost({ ...base, volumeGiB: 1 }).usd;
    const standby = monthlyCost({ ...base, volumeGiB: 0, valkey: { size: 'db-s-1vcpu-2gb', standby: true } });
    figures.add(Math.round(stateful)); // "about $60/month"
    figures.add(Math.round((stateful / 730) * 100) / 100); // per hour (730 hours a month)
    figures.add(standby.lines.filter((l) => l.item.includes('Valkey')).reduce((n, l) => n + l.usd, 0)); // 2 GB + standby
    return figures;
  }
  const dollars = (text: string) => [...text.matchAll(/\$(\d+(?:\.\d+)?)/g)].map((m) => Number(m[1]));

  it.each([
    ['README.md', /\*\*What an hour costs:\*\*[\s\S]*?```/],
    ['infra/README.md', /## Costs\n[\s\S]*?\n## /],
  ])('every dollar figure in the cost lines of %s is in the table or computed from it', (file, section) => {
    const text = section.exec(read(file))?.[0];
    expect(text).toBeDefined();
    const known = knownFigures();
    const found = dollars(text!);
    expect(found.length).toBeGreaterThan(3);
    expect(found.filter((d) => !known.has(d))).toEqual([]);
  });

  it('says when the prices were read', () => {
    expect(PRICES.readOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});
