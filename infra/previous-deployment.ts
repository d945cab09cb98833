/**
 * What this stack's last `pulumi up` exported, read through a StackReference to the stack
 * itself (pulumi/pulumi#3722: a stack may reference itself; a stack never deployed reads as
 * no outputs). Some changes are safe only on a new stack (chat:restoreFrom, a switch of
 * chat:redis): the checks in restore.ts and redis-switch.ts read these facts, from one
 * reference, created only when one of them needs it.
 */
import * as pulumi from '@pulumi/pulumi';

/** The outputs the checks read; unknown, since an older deployment may lack any of them. */
export interface PreviousOutputs {
  /** "memory", "aof" or "rdb" (index.ts `persistence`). */
  persistence?: unknown;
  /** The snapshot redis-pvc was created from (index.ts `restoredFrom`). */
  restoredFrom?: unknown;
  /** "pod" or "managed" (index.ts `redis`). */
  redis?: unknown;
}

/** This stack's outputs from its last deployment. */
export function previousOutputs(opts?: pulumi.CustomResourceOptions): pulumi.Output<PreviousOutputs> {
  const self = new pulumi.StackReference(
    'previous-deployment',
    { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` },
    opts,
  );
  return pulumi
    .all([self.getOutput('persistence'), self.getOutput('restoredFrom'), self.getOutput('redis')])
    .apply(([persistence, restoredFrom, redis]: unknown[]) => ({ persistence, restoredFrom, redis }));
}
