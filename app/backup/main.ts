/**
 * `npm run backup -- --stack stateful [--target local|cluster] [--list]`: a backup of the
 * chat history that outlives the volume. Exit 0 on success, 1 when no backup was taken (or
 * listed), 2 on bad arguments.
 */
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { HISTORY_KEY } from '../src/chat-store';
import { readStackOutputs, runCommand } from '../experiment/outputs';
import { instanceName } from '../../infra/instance-name';
import { readStackConfig, repoRoot, STACK_NAMES, type StackName } from '../local/stack-config';
import { defaultDataDir, runningState } from '../local/state-file';
import { BackupError } from './aof-quiesce';
import { ClusterBackup, listClusterBackups } from './cluster';
import { digitalOceanApi } from './do-api';
import { ioredisAdmin } from './ioredis-admin';
import { backupKubeFromKubeconfig } from './kube';
import { backupsDir, listLocalBackups, takeLocalBackup } from './local';
import { nonEmpty, oneOf, parseCommandLine, reportUsageError, UsageError, wholeNumber } from '../cli/args';

export const USAGE = `Usage: npm run backup -- --stack stateful [options]

Backs up the chat history of a stack whose Redis keeps an append-only file: first it
gets Redis's files consistent on disk (automatic rewrites paused, one BGREWRITEAOF run to
its end, as Redis's persistence docs describe), then it copies or snapshots them.

  --stack stateless|stateful   which stack (required; a memory-only stack has nothing to back up)
  --target local|cluster       local: copy .local/<stack>/redis to .local/backups/<stack>/<time>
                               (default); cluster: a DigitalOcean volume snapshot of redis-pvc
                               that outlives pulumi destroy
  --list                       list the stack's backups instead of taking one
  --timeout S                  seconds the rewrite, and on a cluster the imported
                               VolumeSnapshot, get before the backup fails (default 120)
  --json                       print the result as one JSON line on stdout
  -h, --help                   show this help

Local target:
  --data-dir DIR               the local stack's data dir (default .local/<stack>, as npm start)

Cluster target (kubeconfig and cluster name from \`pulumi stack output -s <stack>\`;
a DigitalOcean token from DIGITALOCEAN_TOKEN, DIGITALOCEAN_ACCESS_TOKEN or the stack's
digitalocean:token):
  --kubeconfig FILE            kubeconfig file instead of the stack output
  --namespace NS               namespace of redis-pvc (default "default")

Restore: npm start -- --stack <stack> --restore <backup> (local);
pulumi config set chat:restoreFrom <snapshot id> on a stack creating redis-pvc (cluster).
`;

/** How to call it, in one line (with a usage error). */
const SYNOPSIS = 'npm run backup -- --stack stateful [--target local|cluster] [--list]';

export interface BackupArgs {
  stack: StackName;
  target: 'local' | 'cluster';
  list: boolean;
  timeoutSeconds: number;
  json: boolean;
  dataDir?: string;
  kubeconfig?: string;
  namespace: string;
  help: boolean;
}

export function parseBackupArgs(argv: string[]): BackupArgs {
  const given = parseCommandLine(argv, {
    stack: { type: 'string' },
    target: { type: 'string' },
    list: { type: 'boolean' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
    'data-dir': { type: 'string' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  const help = given.help === true;
  if (given.stack === undefined) {
    if (help) return { ...defaults(), help };
    throw new UsageError(`--stack is required: --stack ${STACK_NAMES.join(' or --stack ')}`);
  }
  const stack = oneOf('stack', given.stack, STACK_NAMES);
  const target = oneOf('target', given.target ?? 'local', ['local', 'cluster'] as const);
  for (const [flag, only] of [
    ['data-dir', 'local'],
    ['kubeconfig', 'cluster'],
    ['namespace', 'cluster'],
  ] as const) {
    if (given[flag] !== undefined && target !== only)
      throw new UsageError(`--${flag} applies only to --target ${only}`);
  }
  return {
    ...defaults(),
    stack,
    target,
    list: given.list === true,
    json: given.json === true,
    timeoutSeconds: given.timeout === undefined ? 120 : wholeNumber('timeout', given.timeout, 1, 3600, 'seconds'),
    dataDir: given['data-dir'] === undefined ? undefined : path.resolve(nonEmpty('data-dir', given['data-dir'])),
    kubeconfig: given.kubeconfig === undefined ? undefined : nonEmpty('kubeconfig', given.kubeconfig),
    namespace: given.namespace === undefined ? 'default' : nonEmpty('namespace', given.namespace),
    help,
  };
}

function defaults(): BackupArgs {
  return {
    stack: 'stateful',
    target: 'local',
    list: false,
    timeoutSeconds: 120,
    json: false,
    namespace: 'default',
    help: false,
  };
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`[backup] ${line}\n`);
const kib = (bytes: number) => `${Math.max(1, Math.round(bytes / 1024))} KiB`;

/** Memory-only stacks have nothing on disk: said before anything else happens. */
function assertPersistent(stack: StackName, root: string): void {
  const config = readStackConfig(stack, root);
  if (!config.persistent) {
    throw new BackupError(
      `stack "${stack}" keeps Redis in memory only (chat:persistence false in ${path.basename(config.file)}): ` +
        'there is nothing on disk to back up',
    );
  }
}

async function local(args: BackupArgs, root: string): Promise<void> {
  const dataDir = args.dataDir ?? defaultDataDir(args.stack, root);
  const dir = backupsDir(root, args.stack);
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  if (args.list) {
    const all = listLocalBackups(dir);
    if (args.json)
      return out(
        JSON.stringify({
          stack: args.stack,
          target: 'local',
          backups: all.map((b) => ({ name: b.name, ...b.manifest, bytes: b.bytes })),
        }),
      );
    if (all.length === 0)
      return out(`No backups of "${args.stack}" in ${rel(dir)}. Take one: npm run backup -- --stack ${args.stack}`);
    out(`Backups of "${args.stack}" in ${rel(dir)} (restore: npm start -- --stack ${args.stack} --restore <backup>):`);
    for (const b of all) {
      out(
        `  ${b.name}  ${kib(b.bytes).padStart(8)}  ${b.manifest.messages === undefined ? '' : `${b.manifest.messages} message(s)`}`,
      );
    }
    return;
  }
  const running = runningState(dataDir);
  const redisDir = path.join(dataDir, 'redis');
  let redis: Redis | undefined;
  if (running) {
    note(
      `the local ${args.stack} stack is running (pid ${running.pid}): backing up its live Redis on port ${running.redisPort}`,
    );
    redis = new Redis({ host: '127.0.0.1', port: running.redisPort, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect().catch((err: Error) => {
      throw new BackupError(`cannot reach the running stack's Redis on port ${running.redisPort}: ${err.message}`);
    });
  } else {
    note(`no local ${args.stack} stack runs on ${rel(dataDir)}: copying its files at rest`);
  }
  try {
    const b = await takeLocalBackup({
      stack: args.stack,
      redisDir,
      backupsDir: dir,
      admin: redis ? ioredisAdmin(redis) : undefined,
      messages: redis ? () => redis.llen(HISTORY_KEY) : undefined,
      timeoutMs: args.timeoutSeconds * 1000,
      progress: note,
    });
    if (args.json)
      return out(JSON.stringify({ ...b.manifest, target: 'local', name: b.name, dir: b.dir, bytes: b.bytes }));
    out(
      `Backup ${b.name} of "${args.stack}": ${b.manifest.files.length} file(s), ${kib(b.bytes)}` +
        `${b.manifest.messages === undefined ? '' : `, ${b.manifest.messages} message(s)`} in ${rel(b.dir)}`,
    );
    out(`Restore it into an empty data dir: npm start -- --stack ${args.stack} --restore ${b.name}`);
  } finally {
    redis?.disconnect();
  }
}

/** The DigitalOcean token as the stack's provider would find it (config.ts digitalOceanToken), without Pulumi loaded. */
async function doToken(stack: StackName, root: string): Promise<string> {
  const env = process.env.DIGITALOCEAN_TOKEN || process.env.DIGITALOCEAN_ACCESS_TOKEN;
  if (env) return env;
  try {
    const r = await runCommand('pulumi', ['config', 'get', 'digitalocean:token', '-s', stack], root);
    if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
  } catch {
    /* no Pulumi CLI */
  }
  throw new BackupError(
    'a DigitalOcean API token is needed for --target cluster: export DIGITALOCEAN_TOKEN (or DIGITALOCEAN_ACCESS_TOKEN), ' +
      `or set the stack's digitalocean:token`,
  );
}

async function cluster(args: BackupArgs, root: string): Promise<void> {
  const instance = instanceName(args.stack);
  const doApi = digitalOceanApi(await doToken(args.stack, root));
  if (args.list) {
    const all = await listClusterBackups(doApi, instance);
    if (args.json) return out(JSON.stringify({ stack: args.stack, target: 'cluster', backups: all }));
    if (all.length === 0)
      return out(
        `No DigitalOcean volume snapshots of "${args.stack}" (tag doks-chat-backup, name ${instance}-redis-*).`,
      );
    out(
      `Volume snapshots of "${args.stack}" (restore: pulumi config set chat:restoreFrom <id> -s ${args.stack}, on a stack creating redis-pvc):`,
    );
    for (const s of all)
      out(`  ${s.id}  ${s.createdAt}  ${s.sizeGigabytes} GiB used, volume >= ${s.minDiskSize} GiB  ${s.name}`);
    return;
  }
  let kubeconfig: string | undefined;
  if (args.kubeconfig) {
    try {
      kubeconfig = fs.readFileSync(args.kubeconfig, 'utf8');
    } catch (err) {
      throw new BackupError(`--kubeconfig ${args.kubeconfig}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  const outputs = await readStackOutputs(args.stack, root).catch((err: Error) => {
    if (kubeconfig) return {} as Record<string, never>;
    throw new BackupError(`${err.message} (or pass --kubeconfig <file>)`);
  });
  kubeconfig ??= outputs.kubeconfig;
  const clusterName = (outputs as { clusterName?: string }).clusterName;
  if (!kubeconfig) throw new BackupError(`stack "${args.stack}" has no "kubeconfig" output; pass --kubeconfig <file>`);
  const b = await new ClusterBackup({
    kube: await backupKubeFromKubeconfig(kubeconfig),
    doApi,
    instance,
    clusterName,
    namespace: args.namespace,
    timeoutMs: args.timeoutSeconds * 1000,
    progress: note,
  }).take();
  if (args.json) return out(JSON.stringify({ stack: args.stack, target: 'cluster', ...b }));
  const s = b.snapshot;
  out(`Backup of "${args.stack}": DigitalOcean volume snapshot ${s.id}`);
  out(
    `  name ${s.name}, taken ${s.createdAt}, ${s.sizeGigabytes} GiB used (restores to a volume of at least ${s.minDiskSize} GiB)`,
  );
  out(`  in the cluster as VolumeSnapshot ${b.volumeSnapshot} (namespace ${b.namespace}), ready`);
  out(
    b.destroy === 'kept'
      ? `  pulumi destroy keeps it: it is not among the resources DigitalOcean deletes with cluster ${clusterName}`
      : '  the stack did not create its cluster (chat:kubeconfig), so pulumi destroy deletes no cluster',
  );
  out(
    `Restore on a stack creating redis-pvc: pulumi config set chat:restoreFrom ${s.id} -s ${args.stack} && pulumi up -s ${args.stack}`,
  );
}

export async function main(argv: string[]): Promise<number> {
  let args: BackupArgs;
  try {
    args = parseBackupArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError('backup', SYNOPSIS, err);
    throw err;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const root = repoRoot();
  try {
    if (!args.list) assertPersistent(args.stack, root);
    if (args.target === 'local') await local(args, root);
    else await cluster(args, root);
    return 0;
  } catch (err) {
    process.stderr.write(
      `backup: ${(err as Error)?.message ?? err}${process.env.BACKUP_DEBUG ? `\n${(err as Error)?.stack}` : ''}\n`,
    );
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
