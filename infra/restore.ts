/**
 * `chat:restoreFrom <snapshot id>`: redis-pvc starts from a DigitalOcean volume snapshot
 * (one `npm run backup -- --target cluster` took), the way csi-digitalocean imports a snapshot
 * made outside the cluster (examples/kubernetes/import-snapshot): a pre-provisioned
 * VolumeSnapshotContent that names the snapshot, a VolumeSnapshot bound to it, and the claim's
 * `dataSource`.
 *
 * A claim starts from a snapshot only when it is created: a `dataSource` added to an existing
 * claim is refused by the API server (the claim's spec is immutable but for its size), so an
 * existing redis-pvc is refused here first, with how to replace it deliberately.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

import type { PreviousOutputs } from './previous-deployment';
import { RESTORE_NAMES, snapshotContentObject, volumeSnapshotObject } from './snapshot-objects';

export { DO_CSI_DRIVER, DO_SNAPSHOT_CLASS, RESTORE_NAMES, SNAPSHOT_ID } from './snapshot-objects';
export { snapshotContentObject, volumeSnapshotObject };

/**
 * Why chat:restoreFrom must not run, or undefined. redis-pvc exists when the stack's last
 * deployment ran Redis on a volume (output `persistence` "aof"); that is fine only when the
 * claim was created from this very snapshot (output `restoredFrom`).
 */
export function restoreRefusal(snapshotId: string, previous: PreviousOutputs, stack: string): string | undefined {
  if (previous.persistence !== 'aof') return undefined;
  if (previous.restoredFrom === snapshotId) return undefined;
  return (
    `chat:restoreFrom ${snapshotId}: stack "${stack}" already has redis-pvc (its last deployment kept Redis on a volume), ` +
    'and a claim starts from a snapshot only when it is created. Restoring over live history replaces it. ' +
    'To keep the live history, unset it: `pulumi config rm chat:restoreFrom`. To replace it deliberately: ' +
    `(1) back up what is there: \`npm run backup -- --stack ${stack} --target cluster\`; ` +
    `(2) \`pulumi config rm chat:restoreFrom -s ${stack} && pulumi state unprotect --all --yes -s ${stack} && ` +
    `pulumi config set chat:persistence false -s ${stack} && pulumi up -s ${stack}\` (deletes redis-pvc and its volume); ` +
    `(3) \`pulumi config set chat:persistence true -s ${stack} && pulumi config set chat:restoreFrom ${snapshotId} -s ${stack} && pulumi up -s ${stack}\``
  );
}

/** A failed check of the stack: printed by Pulumi as its message, without a stack trace. */
export class RestoreRefused extends pulumi.RunError {}

export interface RestoreArgs {
  provider: k8s.Provider;
  snapshotId: string;
  /** The stack's own outputs from its last deployment. */
  previous: pulumi.Output<PreviousOutputs>;
  stack: string;
}

/**
 * Creates the VolumeSnapshotContent and VolumeSnapshot under `parent` and returns the
 * claim's dataSource. The dataSource resolves only once the refusal check has passed, so an
 * existing redis-pvc stops the deployment before anything is sent for it.
 */
export function restoreSource(
  parent: pulumi.Resource,
  args: RestoreArgs,
): pulumi.Output<k8s.types.input.core.v1.TypedLocalObjectReference> {
  const child = { parent, provider: args.provider };
  const snapshot = new k8s.apiextensions.CustomResource(
    RESTORE_NAMES.snapshot,
    volumeSnapshotObject(RESTORE_NAMES.content, RESTORE_NAMES.snapshot),
    child,
  );
  // The content names the snapshot's namespace: the provider's default namespace, as the claim's.
  const namespace = snapshot.metadata.namespace.apply((ns) => ns ?? 'default');
  const content = snapshotContentObject(args.snapshotId, RESTORE_NAMES.content, RESTORE_NAMES.snapshot, 'default');
  new k8s.apiextensions.CustomResource(
    RESTORE_NAMES.content,
    { ...content, spec: { ...content.spec, volumeSnapshotRef: { name: RESTORE_NAMES.snapshot, namespace } } },
    child,
  );
  return pulumi
    .all([args.previous, snapshot.metadata.name])
    .apply(([previous, name]) => claimSource(args.snapshotId, previous, args.stack, name ?? RESTORE_NAMES.snapshot));
}

/** The claim's dataSource naming VolumeSnapshot `name`; throws RestoreRefused when restoreRefusal says so. */
export function claimSource(snapshotId: string, previous: PreviousOutputs, stack: string, name: string) {
  const refusal = restoreRefusal(snapshotId, previous, stack);
  if (refusal) throw new RestoreRefused(refusal);
  return { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name };
}
