import { execFile } from 'node:child_process';
import YAML from 'yaml';
import type { AppendFsync } from '../../infra/persistence';

/** The Pulumi stack outputs the cluster target uses. */
export interface StackOutputs {
  url?: string;
  /** Kubeconfig YAML (a secret output). */
  kubeconfig?: string;
  persistence?: boolean;
  appendfsync?: AppendFsync;
  /** Where the history lives (chat:redis): "pod" or "managed". */
  redis?: 'pod' | 'managed';
}

export type RunCommand = (
  cmd: string,
  args: string[],
  cwd: string,
) => Promise<{ code: number; stdout: string; stderr: string }>;

export class StackOutputsError extends Error {}

/** execFile as a promise that resolves with the exit code instead of rejecting on non-zero; rejects on ENOENT. */
export const runCommand: RunCommand = (cmd, args, cwd) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (err instanceof Error && code === 'ENOENT') return reject(err);
      const exit = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code: exit, stdout: String(stdout), stderr: String(stderr) });
    });
  });

/** `pulumi stack output --json --show-secrets -s <stack>`, parsed. */
export async function readStackOutputs(
  stack: string,
  cwd: string,
  run: RunCommand = runCommand,
): Promise<StackOutputs> {
  const args = ['stack', 'output', '--json', '--show-secrets', '-s', stack];
  let res;
  try {
    res = await run('pulumi', args, cwd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StackOutputsError(
        'the Pulumi CLI is not installed, so the stack outputs cannot be read: install it (https://www.pulumi.com/docs/install/)',
      );
    }
    throw new StackOutputsError(`pulumi ${args.join(' ')} failed: ${(err as Error).message}`);
  }
  if (res.code !== 0) {
    const why = res.stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${res.code}`;
    throw new StackOutputsError(`cannot read the outputs of stack "${stack}" (pulumi ${args.join(' ')}): ${why}`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(res.stdout) as Record<string, unknown>;
  } catch {
    throw new StackOutputsError(`pulumi stack output for "${stack}" did not print JSON: ${res.stdout.slice(0, 200)}`);
  }
  return parseOutputs(raw ?? {});
}

export function parseOutputs(raw: Record<string, unknown>): StackOutputs {
  const out: StackOutputs = {};
  if (typeof raw.url === 'string' && raw.url) out.url = raw.url;
  if (typeof raw.kubeconfig === 'string' && raw.kubeconfig) out.kubeconfig = raw.kubeconfig;
  else if (raw.kubeconfig && typeof raw.kubeconfig === 'object') out.kubeconfig = YAML.stringify(raw.kubeconfig);
  if (typeof raw.persistence === 'boolean') out.persistence = raw.persistence;
  else if (raw.persistence === 'true' || raw.persistence === 'false') out.persistence = raw.persistence === 'true';
  else if (raw.persistence === 'aof' || raw.persistence === 'memory') out.persistence = raw.persistence === 'aof';
  if (raw.appendfsync === 'everysec' || raw.appendfsync === 'always') out.appendfsync = raw.appendfsync;
  if (raw.redis === 'pod' || raw.redis === 'managed') out.redis = raw.redis;
  return out;
}
