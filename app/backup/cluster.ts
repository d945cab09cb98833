/**
 * `npm run backup -- --target cluster`: a DigitalOcean volume snapshot of redis-pvc's volume
 * that outlives `pulumi destroy`.
 *
 * Why the snapshot is taken through DigitalOcean's API and not as a VolumeSnapshot of the claim:
 * the cluster is created with destroyAllAssociatedResources, so `pulumi destroy` deletes it
 * with godo `DeleteDangerous` (terraform-provider-digitalocean digitalocean/kubernetes/
 * resource_kubernetes_cluster.go resourceDigitalOceanKubernetesClusterDelete), which destroys
 * the cluster's "associated resources": load balancers, volumes and volume snapshots
 * (godo kubernetes.go KubernetesAssociatedResources, ListAssociatedResourcesForDeletion). The
 * snapshots among them are those "created by the DigitalOcean CSI driver" (DigitalOcean's doctl
 * reference, `doctl kubernetes cluster list-associated-resources`). A VolumeSnapshot
 * of the claim is created by csi-digitalocean, which tags it with the cluster's tag like its
 * volumes (driver/controller.go CreateSnapshot: `snapReq.Tags = append(.., d.doTag)`): it
 * would go with the cluster. A snapshot asked for directly (POST /v2/volumes/{id}/snapshots)
 * is not made through the cluster; after taking it, this command asks DigitalOcean which
 * snapshots the cluster's destroy would delete (GET /v2/kubernetes/clusters/{id}/
 * destroy_with_associated_resources) and fails if ours is among them.
 *
 * It is then brought into the cluster as csi-digitalocean imports any snapshot
 * (examples/kubernetes/import-snapshot): a VolumeSnapshotContent with deletionPolicy Retain
 * and a VolumeSnapshot, waited on until csi-digitalocean reports it readyToUse. Retain: deleting
 * those objects never deletes the snapshot.
 */
import { BackupError, withAofQuiesced, type RedisAdmin } from './aof-quiesce';
import { DO_CSI_DRIVER, snapshotContentObject, volumeSnapshotObject } from '../../infra/snapshot-objects';
import { describePods, kubeErrorText, type PodInfo } from '../experiment/cluster-target';

export interface ClaimInfo {
  volumeName?: string;
  phase?: string;
  /** status.capacity.storage, e.g. "1Gi". */
  capacity?: string;
}

export interface VolumeInfo {
  /** spec.csi.driver */
  driver?: string;
  /** spec.csi.volumeHandle: csi-digitalocean's volume id is the DigitalOcean volume id (CreateVolume: VolumeId: vol.ID). */
  volumeHandle?: string;
}

export interface SnapshotStatus {
  readyToUse?: boolean;
  boundVolumeSnapshotContentName?: string;
  /** status.error.message, set by the snapshot controller or csi-snapshotter. */
  error?: string;
}

/** The Kubernetes calls the backup makes; @kubernetes/client-node in kube.ts, a stub in the tests. */
export interface BackupKube {
  listPods(namespace: string, labelSelector: string): Promise<PodInfo[]>;
  /** Runs `command` in the container; resolves with stdout, rejects with stderr on a non-zero exit. */
  exec(namespace: string, pod: string, container: string, command: string[]): Promise<string>;
  readClaim(namespace: string, name: string): Promise<ClaimInfo | undefined>;
  readVolume(name: string): Promise<VolumeInfo | undefined>;
  createSnapshotContent(body: object): Promise<void>;
  createVolumeSnapshot(namespace: string, body: object): Promise<void>;
  readVolumeSnapshot(namespace: string, name: string): Promise<SnapshotStatus | undefined>;
}

export interface DoSnapshot {
  id: string;
  name: string;
  /** ISO time DigitalOcean took it. */
  createdAt: string;
  /** GiB the snapshot uses (billed). */
  sizeGigabytes: number;
  /** The smallest volume it can become: redis-pvc must ask for at least this. */
  minDiskSize: number;
  tags: string[];
}

/** The DigitalOcean API calls the backup makes; fetch in do-api.ts, a stub in the tests. */
export interface DigitalOceanApi {
  /** POST /v2/volumes/{volumeId}/snapshots */
  snapshotVolume(volumeId: string, name: string, tags: string[]): Promise<DoSnapshot>;
  /** GET /v2/snapshots?resource_type=volume, every page. */
  listVolumeSnapshots(): Promise<DoSnapshot[]>;
  /** The id of the Kubernetes cluster named `name`, if there is one (GET /v2/kubernetes/clusters, every page). */
  clusterId(name: string): Promise<string | undefined>;
  /** GET /v2/kubernetes/clusters/{id}/destroy_with_associated_resources: the volume snapshot ids. */
  associatedSnapshotIds(clusterId: string): Promise<string[]>;
}

/** The tag every backup carries; --list finds backups by it (and by the stack's name prefix). */
export const BACKUP_TAG = 'doks-chat-backup';

export function snapshotPrefix(instance: string): string {
  return `${instance}-redis-`;
}

/** `chat-stateful-redis-20250102-030405`: DigitalOcean snapshot names take letters, digits, dots and dashes. */
export function snapshotName(instance: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '-');
  return `${snapshotPrefix(instance)}${stamp}`;
}

export interface ClusterBackupOptions {
  kube: BackupKube;
  doApi: DigitalOceanApi;
  /** chat-<stack>: names the snapshot (and the cluster the stack created). */
  instance: string;
  /** The stack's clusterName output: whose associated resources to check. Undefined with chat:kubeconfig. */
  clusterName?: string;
  namespace?: string;
  claim?: string;
  redisSelector?: string;
  /** How long the rewrite may take, and how long the imported VolumeSnapshot gets to become ready. */
  timeoutMs?: number;
  pollMs?: number;
  progress?: (line: string) => void;
  now?: () => Date;
}

export interface ClusterBackupResult {
  snapshot: DoSnapshot;
  /** The VolumeSnapshot (and VolumeSnapshotContent) it was imported as. */
  volumeSnapshot: string;
  namespace: string;
  /** What `pulumi destroy` does to it, from DigitalOcean's list of the cluster's associated resources. */
  destroy: 'kept' | 'not this stack’s cluster';
}

import { setTimeout as sleep } from 'node:timers/promises';
const seconds = (ms: number) => `${ms >= 10_000 ? Math.round(ms / 1000) : Math.round(ms / 100) / 10} s`;

/** RedisAdmin through `redis-cli` in the Redis container (its env has REDISCLI_AUTH). */
export function execAdmin(kube: BackupKube, namespace: string, pod: string, container: string): RedisAdmin {
  const cli = async (...args: string[]) => {
    const out = await kube.exec(namespace, pod, container, ['redis-cli', '-p', '6379', ...args]);
    // redis-cli without a terminal prints an error reply as the bare message.
    if (/^(\(error\) )?(ERR|WRONGPASS|NOAUTH|NOPERM)\b/.test(out.trim()))
      throw new BackupError(`redis-cli ${args.join(' ')}: ${out.trim()}`);
    return out;
  };
  return {
    configGet: async (name) => (await cli('CONFIG', 'GET', name)).trim().split(/\r?\n/)[1] ?? '',
    configSet: async (name, value) => {
      await cli('CONFIG', 'SET', name, value);
    },
    bgrewriteaof: () => cli('BGREWRITEAOF'),
    info: (section) => cli('INFO', section),
  };
}

export class ClusterBackup {
  private readonly namespace: string;

  constructor(private readonly o: ClusterBackupOptions) {
    this.namespace = o.namespace ?? 'default';
  }

  async take(): Promise<ClusterBackupResult> {
    const o = this.o;
    const progress = o.progress ?? (() => {});
    const claimName = o.claim ?? 'redis-pvc';
    const selector = o.redisSelector ?? 'app=redis';
    const timeoutMs = o.timeoutMs ?? 120_000;

    const claim = await this.kube(`read PersistentVolumeClaim ${claimName}`, () =>
      o.kube.readClaim(this.namespace, claimName),
    );
    if (!claim) {
      throw new BackupError(
        `no PersistentVolumeClaim ${claimName} in namespace ${this.namespace}: the stack keeps Redis in memory only (nothing to back up), or it is not deployed`,
      );
    }
    if (!claim.volumeName)
      throw new BackupError(`${claimName} is not bound to a volume yet (phase ${claim.phase ?? '?'})`);
    const volume = await this.kube(`read PersistentVolume ${claim.volumeName}`, () =>
      o.kube.readVolume(claim.volumeName!),
    );
    if (volume?.driver !== DO_CSI_DRIVER || !volume.volumeHandle) {
      throw new BackupError(
        `${claimName}'s volume ${claim.volumeName} is not a DigitalOcean volume (CSI driver ${volume?.driver ?? 'none'}, ` +
          `not ${DO_CSI_DRIVER}): --target cluster backs up do-block-storage volumes only`,
      );
    }

    const pods = await this.kube(`list pods ${selector}`, () => o.kube.listPods(this.namespace, selector));
    const pod = pods.find((p) => p.ready && !p.terminating);
    if (!pod)
      throw new BackupError(`no Ready Redis pod (${selector}) in namespace ${this.namespace}: ${describePods(pods)}`);
    const container = pod.containers.includes('redis') ? 'redis' : pod.containers[0];

    const name = snapshotName(o.instance, (o.now ?? (() => new Date()))());
    const { result: snapshot } = await withAofQuiesced(
      execAdmin(o.kube, this.namespace, pod.name, container),
      async () => {
        progress(`snapshotting volume ${volume.volumeHandle} through the DigitalOcean API`);
        try {
          return await o.doApi.snapshotVolume(volume.volumeHandle!, name, [BACKUP_TAG, `doks-chat:${o.instance}`]);
        } catch (err) {
          throw new BackupError(
            `DigitalOcean refused the snapshot of volume ${volume.volumeHandle}: ${(err as Error).message}`,
          );
        }
      },
      { timeoutMs, pollMs: o.pollMs, progress },
    );

    // Import it, as csi-digitalocean's import-snapshot example does, and wait for the driver to see it.
    const objName = name;
    progress(`importing snapshot ${snapshot.id} as VolumeSnapshot ${objName}`);
    await this.kube('create the VolumeSnapshotContent', () =>
      o.kube.createSnapshotContent(snapshotContentObject(snapshot.id, objName, objName, this.namespace)),
    );
    await this.kube('create the VolumeSnapshot', () =>
      o.kube.createVolumeSnapshot(this.namespace, volumeSnapshotObject(objName, objName)),
    );
    await this.waitReady(objName, snapshot, timeoutMs);

    let destroy: ClusterBackupResult['destroy'] = 'not this stack’s cluster';
    if (o.clusterName) {
      progress(`asking DigitalOcean what destroying cluster ${o.clusterName} would delete`);
      const clusterId = await o.doApi.clusterId(o.clusterName);
      if (!clusterId) throw new BackupError(`DigitalOcean knows no Kubernetes cluster named ${o.clusterName}`);
      const associated = await o.doApi.associatedSnapshotIds(clusterId);
      if (associated.includes(snapshot.id)) {
        throw new BackupError(
          `snapshot ${snapshot.id} is among the resources DigitalOcean deletes with cluster ${o.clusterName}, so pulumi destroy ` +
            'would delete this backup. Keep it before destroying: doctl compute snapshot list, and do not destroy the stack ' +
            'until the snapshot is no longer listed by `doctl kubernetes cluster list-associated-resources ' +
            `${o.clusterName}\``,
        );
      }
      destroy = 'kept';
    }
    return { snapshot, volumeSnapshot: objName, namespace: this.namespace, destroy };
  }

  /** Polls the VolumeSnapshot until readyToUse, at most `timeoutMs`: a clear error, never a hang. */
  private async waitReady(name: string, snapshot: DoSnapshot, timeoutMs: number): Promise<void> {
    const began = Date.now();
    let last: SnapshotStatus | undefined;
    for (;;) {
      last = await this.kube(`read VolumeSnapshot ${name}`, () => this.o.kube.readVolumeSnapshot(this.namespace, name));
      if (last?.readyToUse) return;
      if (Date.now() - began >= timeoutMs) {
        const status = last
          ? `readyToUse ${last.readyToUse ?? 'unset'}${last.error ? `, error: ${last.error}` : ''}`
          : 'it does not exist';
        throw new BackupError(
          `VolumeSnapshot ${name} did not become ready within ${seconds(timeoutMs)} (${status}). ` +
            `The DigitalOcean snapshot ${snapshot.id} was taken and is kept (deletionPolicy Retain), but the cluster's ` +
            `snapshot controller has not confirmed it: see \`kubectl describe volumesnapshot ${name}\` and ` +
            '`kubectl -n kube-system logs deploy/snapshot-controller`',
        );
      }
      await sleep(this.o.pollMs ?? 2000);
    }
  }

  private async kube<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof BackupError) throw err;
      throw new BackupError(`Kubernetes: cannot ${what} in namespace ${this.namespace}: ${kubeErrorText(err)}`);
    }
  }
}

/** This stack's backups among the account's volume snapshots, oldest first. */
export async function listClusterBackups(doApi: DigitalOceanApi, instance: string): Promise<DoSnapshot[]> {
  const all = await doApi.listVolumeSnapshots();
  return all
    .filter((s) => s.tags.includes(BACKUP_TAG) && s.name.startsWith(snapshotPrefix(instance)))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
