/**
 * The real BackupKube on @kubernetes/client-node 1.x (ESM-only: loaded with a dynamic import(),
 * as app/experiment/kube.ts does; jest never loads it).
 */
import { Writable } from 'node:stream';
import { podInfo } from '../experiment/kube';
import type { BackupKube } from './cluster';
import { loadKubeConfig } from '../experiment/kube';

const GROUP = 'snapshot.storage.k8s.io';
const VERSION = 'v1';

/** Collects a stream's text. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export async function backupKubeFromKubeconfig(kubeconfigYaml: string): Promise<BackupKube> {
  const { k8s, kc } = await loadKubeConfig(kubeconfigYaml);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const exec = new k8s.Exec(kc);
  const notFound = (err: unknown) => (err as { code?: number })?.code === 404;
  return {
    async listPods(namespace, labelSelector) {
      return (await core.listNamespacedPod({ namespace, labelSelector })).items.map(podInfo);
    },
    exec(namespace, pod, container, command) {
      const out = sink();
      const err = sink();
      return new Promise<string>((resolve, reject) => {
        exec
          .exec(namespace, pod, container, command, out.stream, err.stream, null, false, (status) => {
            if (status.status === 'Success') resolve(out.text());
            else
              reject(
                new Error(`${command.join(' ')} in ${pod}: ${err.text().trim() || status.message || status.reason}`),
              );
          })
          .catch(reject);
      });
    },
    async readClaim(namespace, name) {
      try {
        const c = await core.readNamespacedPersistentVolumeClaim({ namespace, name });
        return { volumeName: c.spec?.volumeName, phase: c.status?.phase, capacity: c.status?.capacity?.storage };
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
    async readVolume(name) {
      try {
        const v = await core.readPersistentVolume({ name });
        return { driver: v.spec?.csi?.driver, volumeHandle: v.spec?.csi?.volumeHandle };
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
    async createSnapshotContent(body) {
      await custom.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'volumesnapshotcontents',
        body,
      });
    },
    async createVolumeSnapshot(namespace, body) {
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'volumesnapshots',
        body,
      });
    },
    async readVolumeSnapshot(namespace, name) {
      try {
        const s = (await custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: 'volumesnapshots',
          name,
        })) as {
          status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; error?: { message?: string } };
        };
        return {
          readyToUse: s.status?.readyToUse,
          boundVolumeSnapshotContentName: s.status?.boundVolumeSnapshotContentName,
          error: s.status?.error?.message,
        };
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
  };
}
