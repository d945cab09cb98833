import fs from 'node:fs';
import type { AppendFsync } from '../../infra/persistence';
import { readStackConfig, repoRoot } from '../local/stack-config';
import type { ExperimentOptions } from './args';
import { readStackOutputs, type StackOutputs } from './outputs';
import { TargetError } from './target';

/** Why --target cluster cannot run against chat:redis managed, and what to do instead. */
export const MANAGED_ON_CLUSTER =
  'the experiment cannot kill a managed database: with chat:redis managed there is no Redis pod to delete, and ' +
  'DigitalOcean does not let a client crash the Managed Valkey node. Measure what a crash between dumps loses with ' +
  'the local emulation instead (npm run experiment -- --stack stateful --redis managed), or test a failover of a ' +
  'standby cluster (chat:redisStandby) from the DigitalOcean control panel or API while the chat runs';

/** Everything the cluster target needs, resolved from flags, stack outputs and the stack file. */
export interface ClusterSettings {
  url: string;
  kubeconfig: string;
  persistence: boolean;
  appendfsync: AppendFsync | null;
  /** Where url/kubeconfig came from, for the report header. */
  source: string;
}

export interface ClusterSetupDeps {
  readOutputs: (stack: string) => Promise<StackOutputs>;
  readFile: (file: string) => string;
  /** chat:persistence and chat:appendfsync from Pulumi.<stack>.yaml, when readable. */
  stackFile: (stack: 'stateless' | 'stateful') => { persistent: boolean; appendfsync: AppendFsync } | undefined;
}

export const defaultClusterSetupDeps: ClusterSetupDeps = {
  readOutputs: (stack) => readStackOutputs(stack, repoRoot()),
  readFile: (file) => fs.readFileSync(file, 'utf8'),
  stackFile: (stack) => {
    try {
      return readStackConfig(stack);
    } catch {
      return undefined;
    }
  },
};

/**
 * --url and --kubeconfig win; whatever is missing comes from `pulumi stack output`.
 * The persistence promise comes from the stack's `persistence` output, else its stack
 * file, else its name; appendfsync likewise (an --appendfsync that contradicts the
 * deployed stack is an error: the experiment cannot change a deployed Redis).
 */
export async function resolveClusterSettings(
  opts: Pick<ExperimentOptions, 'stack' | 'url' | 'kubeconfig' | 'appendfsync'>,
  deps: ClusterSetupDeps = defaultClusterSetupDeps,
): Promise<ClusterSettings> {
  let outputs: StackOutputs = {};
  let source = 'flags';
  if (!opts.url || !opts.kubeconfig) {
    try {
      outputs = await deps.readOutputs(opts.stack);
    } catch (err) {
      const missing = [!opts.url && '--url <load balancer URL>', !opts.kubeconfig && '--kubeconfig <file>']
        .filter(Boolean)
        .join(' and ');
      throw new TargetError(`${(err as Error).message} (or pass ${missing})`);
    }
    source = opts.url || opts.kubeconfig ? 'flags and stack outputs' : `stack outputs of "${opts.stack}"`;
  }
  const url = opts.url ?? outputs.url;
  if (!url) {
    throw new TargetError(
      `stack "${opts.stack}" has no "url" output (is it deployed? run pulumi up -s ${opts.stack}); or pass --url`,
    );
  }
  let kubeconfig: string | undefined;
  if (opts.kubeconfig) {
    try {
      kubeconfig = deps.readFile(opts.kubeconfig);
    } catch (err) {
      throw new TargetError(
        `--kubeconfig ${opts.kubeconfig}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  } else kubeconfig = outputs.kubeconfig;
  if (!kubeconfig) {
    throw new TargetError(`stack "${opts.stack}" has no "kubeconfig" output; pass --kubeconfig <file>`);
  }

  if (outputs.redis === 'managed') throw new TargetError(MANAGED_ON_CLUSTER);
  const file = deps.stackFile(opts.stack);
  const persistence = outputs.persistence ?? file?.persistent ?? opts.stack === 'stateful';
  let appendfsync: AppendFsync | null = null;
  if (persistence) {
    const deployed = outputs.appendfsync ?? file?.appendfsync;
    if (opts.appendfsync && deployed && opts.appendfsync !== deployed) {
      throw new TargetError(
        `--appendfsync ${opts.appendfsync} does not match the deployed stack's appendfsync ${deployed}; the experiment cannot change it ` +
          `(pulumi config set chat:appendfsync ${opts.appendfsync} -s ${opts.stack} && pulumi up -s ${opts.stack})`,
      );
    }
    appendfsync = opts.appendfsync ?? deployed ?? 'everysec';
  } else if (opts.appendfsync) {
    throw new TargetError(
      `--appendfsync ${opts.appendfsync}: stack "${opts.stack}" runs memory-only Redis (persistence false)`,
    );
  }
  return { url, kubeconfig, persistence, appendfsync, source };
}
