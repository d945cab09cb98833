/**
 * Local backups: a copy of the local stack's Redis data directory (what redis-pvc is in the
 * cluster) under `.local/backups/<stack>/<time>`, and the restore `npm start -- --restore` does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withAofQuiesced, BackupError, type RedisAdmin } from './aof-quiesce';

/** Written beside the copied files; a directory without it is not a backup (e.g. one cut short). */
export const MANIFEST = 'backup.json';

export interface BackupManifest {
  stack: string;
  /** ISO time the copy was taken (after the rewrite finished). */
  takenAt: string;
  /** The data directory it was copied from. */
  source: string;
  /** Whether a running Redis was quiesced (rewrite finished, rewrites paused) or the files were at rest. */
  redisRunning: boolean;
  /** Length of chat_history when the copy was taken (known when Redis was running). */
  messages?: number;
  files: { name: string; bytes: number }[];
}

export interface LocalBackup {
  name: string;
  dir: string;
  manifest: BackupManifest;
  bytes: number;
}

/** Files of the data directory that are not data: the launch lock, and a rewrite's temporary files. */
const NOT_DATA = /^(redis\.lock|temp-.*)$/;

/** `2025-01-02T03-04-05.678Z`: sortable, and safe as a file name everywhere. */
export function backupName(at: Date): string {
  return at.toISOString().replace(/:/g, '-');
}

export function backupsDir(root: string, stack: string): string {
  return path.join(root, '.local', 'backups', stack);
}

/** Whether `redisDir` holds Redis data (an append-only directory or an RDB file). */
export function holdsData(redisDir: string): boolean {
  try {
    return fs.readdirSync(redisDir).some((f) => !NOT_DATA.test(f));
  } catch {
    return false;
  }
}

function copyData(from: string, to: string): { name: string; bytes: number }[] {
  const files: { name: string; bytes: number }[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(from, rel), { withFileTypes: true })) {
      if (rel === '' && NOT_DATA.test(entry.name)) continue;
      const r = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        fs.mkdirSync(path.join(to, r), { recursive: true });
        walk(r);
      } else if (entry.isFile() && !NOT_DATA.test(entry.name)) {
        fs.copyFileSync(path.join(from, r), path.join(to, r));
        files.push({ name: r, bytes: fs.statSync(path.join(to, r)).size });
      }
    }
  };
  fs.mkdirSync(to, { recursive: true });
  walk('');
  return files;
}

export interface TakeLocalBackupOptions {
  stack: string;
  /** Redis's data directory (`<dataDir>/redis`). */
  redisDir: string;
  /** Where backups of this stack go (`.local/backups/<stack>`). */
  backupsDir: string;
  /** The running Redis, when there is one: quiesced before the copy. Absent: the files are at rest. */
  admin?: RedisAdmin;
  /** LLEN chat_history, for the manifest. */
  messages?: () => Promise<number>;
  timeoutMs?: number;
  progress?: (line: string) => void;
  now?: () => Date;
}

/**
 * Copies the data directory into `<backupsDir>/<time>`: first under a hidden name, renamed
 * when complete, so a backup cut short never shows up as one.
 */
export async function takeLocalBackup(o: TakeLocalBackupOptions): Promise<LocalBackup> {
  if (!holdsData(o.redisDir) && !o.admin) {
    throw new BackupError(
      `${o.redisDir} holds no Redis data: nothing to back up (start the stack with npm start -- --stack ${o.stack} and post something)`,
    );
  }
  const copy = () => {
    const at = (o.now ?? (() => new Date()))();
    const name = backupName(at);
    const dir = path.join(o.backupsDir, name);
    if (fs.existsSync(dir)) throw new BackupError(`${dir} exists already`);
    const partial = path.join(o.backupsDir, `.${name}.partial`);
    fs.rmSync(partial, { recursive: true, force: true });
    try {
      const files = copyData(o.redisDir, partial);
      return { name, dir, partial, at, files };
    } catch (err) {
      fs.rmSync(partial, { recursive: true, force: true });
      throw new BackupError(`copying ${o.redisDir} failed: ${(err as Error).message}`);
    }
  };
  const taken = o.admin
    ? (
        await withAofQuiesced(o.admin, () => Promise.resolve().then(copy), {
          timeoutMs: o.timeoutMs,
          progress: o.progress,
        })
      ).result
    : copy();
  let messages: number | undefined;
  try {
    messages = o.messages ? await o.messages() : undefined;
  } catch {
    /* a courtesy for --list */
  }
  const manifest: BackupManifest = {
    stack: o.stack,
    takenAt: taken.at.toISOString(),
    source: o.redisDir,
    redisRunning: !!o.admin,
    messages,
    files: taken.files,
  };
  fs.writeFileSync(path.join(taken.partial, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(taken.partial, taken.dir);
  return { name: taken.name, dir: taken.dir, manifest, bytes: taken.files.reduce((n, f) => n + f.bytes, 0) };
}

/** The complete backups of a stack, oldest first. */
export function listLocalBackups(dir: string): LocalBackup[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: LocalBackup[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const b = readBackup(path.join(dir, name));
    if (b) out.push(b);
  }
  return out;
}

function readBackup(dir: string): LocalBackup | undefined {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as BackupManifest;
    return { name: path.basename(dir), dir, manifest, bytes: manifest.files.reduce((n, f) => n + f.bytes, 0) };
  } catch {
    return undefined;
  }
}

/** A backup by its name (as --list shows it), `latest`, or a path to its directory. */
export function findLocalBackup(ref: string, dir: string, stack: string): LocalBackup {
  const all = listLocalBackups(dir);
  const found =
    ref === 'latest'
      ? all[all.length - 1]
      : (all.find((b) => b.name === ref) ?? (fs.existsSync(ref) ? readBackup(path.resolve(ref)) : undefined));
  if (!found) {
    const known = all.length
      ? `backups of "${stack}": ${all.map((b) => b.name).join(', ')} (or latest)`
      : `there are no backups of "${stack}" in ${dir}: take one with npm run backup -- --stack ${stack}`;
    throw new BackupError(`no backup ${JSON.stringify(ref)}; ${known}`);
  }
  if (found.manifest.stack !== stack) {
    throw new BackupError(`${found.dir} is a backup of stack "${found.manifest.stack}", not "${stack}"`);
  }
  return found;
}

/**
 * Restores a backup into an empty data directory (the new volume). A directory that holds data
 * is refused: that is live history, and replacing it must be a deliberate step.
 */
export function restoreLocalBackup(backup: LocalBackup, redisDir: string, replaceHint: string): void {
  if (holdsData(redisDir)) {
    throw new BackupError(
      `${redisDir} already holds Redis data: restoring over live history replaces it, so it is refused. ` + replaceHint,
    );
  }
  const partial = `${redisDir.replace(/[/\\]+$/, '')}.restoring`;
  fs.rmSync(partial, { recursive: true, force: true });
  copyData(backup.dir, partial);
  fs.rmSync(path.join(partial, MANIFEST), { force: true });
  fs.rmSync(redisDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(redisDir), { recursive: true });
  fs.renameSync(partial, redisDir);
}
