/**
 * The snapshot.storage.k8s.io objects of a restore, and the names they rely on, as plain
 * data: the Pulumi program (restore.ts) and `npm run backup` (app/backup) both build them.
 * It loads no Pulumi: the backup command uses it too.
 */

/** csi-digitalocean's driver name: driver/driver.go `DefaultDriverName`. */
export const DO_CSI_DRIVER = 'dobs.csi.digitalocean.com';
/**
 * The VolumeSnapshotClass csi-digitalocean ships (and DOKS installs), driver
 * dobs.csi.digitalocean.com, deletionPolicy Delete: deploy/kubernetes/releases/
 * csi-digitalocean-v4.16.0/driver.yaml `kind: VolumeSnapshotClass`, name do-block-storage.
 * An imported content carries its own deletionPolicy (Retain below), so the class's Delete
 * never applies to it.
 */
export const DO_SNAPSHOT_CLASS = 'do-block-storage';
export const SNAPSHOT_API_VERSION = 'snapshot.storage.k8s.io/v1';

/** Names of the two snapshot objects a restore creates. */
export const RESTORE_NAMES = { content: 'redis-restore-content', snapshot: 'redis-restore' } as const;

/** A DigitalOcean volume snapshot id, as chat:restoreFrom takes it (declared with the setting). */
export { VOLUME_SNAPSHOT_ID as SNAPSHOT_ID } from '../app/src/stack-settings';

/** The pre-provisioned VolumeSnapshotContent: the snapshot by its id, kept when the objects go (Retain). */
export function snapshotContentObject(snapshotId: string, content: string, snapshot: string, namespace: string) {
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshotContent',
    metadata: { name: content },
    spec: {
      // Deleting the VolumeSnapshot (or this object) must never delete the backup itself.
      deletionPolicy: 'Retain',
      driver: DO_CSI_DRIVER,
      source: { snapshotHandle: snapshotId },
      volumeSnapshotClassName: DO_SNAPSHOT_CLASS,
      volumeSnapshotRef: { name: snapshot, namespace },
    },
  };
}

/** The VolumeSnapshot bound to that content (the claim's dataSource names it). */
export function volumeSnapshotObject(content: string, snapshot: string) {
  return {
    apiVersion: SNAPSHOT_API_VERSION,
    kind: 'VolumeSnapshot',
    metadata: { name: snapshot },
    spec: { volumeSnapshotClassName: DO_SNAPSHOT_CLASS, source: { volumeSnapshotContentName: content } },
  };
}
