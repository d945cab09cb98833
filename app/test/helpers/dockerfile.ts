import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** One instruction of a Dockerfile, continuation lines joined. */
export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === 'FROM') {
      const as = /\s+AS\s+(\S+)/i.exec(m[2]);
      stages.push({ name: as ? as[1] : String(stages.length), instructions: [] });
      continue;
    }
    if (stages.length) stages[stages.length - 1].instructions.push({ op, args: m[2].trim() });
  }
  return stages;
}

/** COPY [--from=stage] src... dest, with the destination resolved against WORKDIR. */
export function copies(stage: Stage): { from?: string; sources: string[]; dest: string }[] {
  let workdir = '/';
  const out: { from?: string; sources: string[]; dest: string }[] = [];
  for (const ins of stage.instructions) {
    if (ins.op === 'WORKDIR') workdir = path.posix.resolve(workdir, ins.args);
    if (ins.op !== 'COPY') continue;
    const words = ins.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const rest = words.filter((w) => !w.startsWith('--'));
    const dest = rest.pop()!;
    out.push({ from, sources: rest, dest: path.posix.resolve(workdir, dest) + (dest.endsWith('/') ? '/' : '') });
  }
  return out;
}

/**
 * A .dockerignore matcher, enough for the patterns this repository uses: paths relative
 * to the context root, `*` within a path segment, `**` across segments, `!` to re-include.
 * A pattern that matches a directory excludes everything below it.
 */
export function dockerignore(text: string): (relPath: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
      const re = pattern
        .split('/')
        .map((seg) =>
          seg === '**'
            ? '.*'
            : seg
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negate, re: new RegExp(`^${re}(?:/.*)?$`) };
    });
  return (relPath) => {
    let excluded = false;
    for (const r of rules) if (r.re.test(relPath)) excluded = !r.negate;
    return excluded;
  };
}

/** Copies `src` (file or directory) to `dest` like Docker's COPY: a directory's contents go into dest. */
export function copyLikeDocker(src: string, dest: string): void {
  if (fs.statSync(src).isDirectory()) {
    fs.mkdirSync(dest, { recursive: true });
    fs.cpSync(src, dest, { recursive: true });
  } else {
    const target = dest.endsWith('/') ? path.join(dest, path.basename(src)) : dest;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(src, target);
  }
}

/**
 * Does a stage's WORKDIR, COPY (from the build context) and RUN instructions in order, in
 * `root` standing in for the stage's filesystem root; RUN goes to `sh -c` in the working
 * directory. A RUN must not name an absolute path (it would leave `root`), and npm runs
 * from its cache where it can.
 */
export function runStage(stage: Stage, root: string, context: string): void {
  let workdir = '/';
  for (const ins of stage.instructions) {
    if (ins.op === 'WORKDIR') {
      workdir = path.posix.resolve(workdir, ins.args);
      fs.mkdirSync(path.join(root, workdir), { recursive: true });
    } else if (ins.op === 'COPY') {
      const [c] = copies({ name: stage.name, instructions: [{ op: 'WORKDIR', args: workdir }, ins] });
      if (c.from) throw new Error(`runStage copies from the build context only: COPY ${ins.args}`);
      for (const src of c.sources) copyLikeDocker(path.join(context, src), path.join(root, c.dest));
    } else if (ins.op === 'RUN') {
      if (/(^|[\s=])\/[\w.]/.test(ins.args)) throw new Error(`RUN names an absolute path: ${ins.args}`);
      execFileSync('sh', ['-c', ins.args], {
        cwd: path.join(root, workdir),
        stdio: 'pipe',
        env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
      });
    }
  }
}

/** The packages installed in a node_modules directory, scoped ones as @scope/name. */
export function installedPackages(nodeModules: string): string[] {
  if (!fs.existsSync(nodeModules)) return [];
  return fs
    .readdirSync(nodeModules)
    .filter((d) => !d.startsWith('.'))
    .flatMap((d) => (d.startsWith('@') ? fs.readdirSync(path.join(nodeModules, d)).map((n) => `${d}/${n}`) : [d]))
    .sort();
}
