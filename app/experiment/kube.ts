import type { KubeClient, PodInfo } from './cluster-target';

/* The real KubeClient, on @kubernetes/client-node 1.x. That package is ESM-only, so
 * it is loaded with a dynamic import() (kept as import() in this CommonJS build by
 * module node16) and only when the cluster target runs: jest never loads it. */

import type { V1Pod } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

/** The client library and a KubeConfig loaded from `kubeconfigYaml`, with errors that say which failed. */
export async function loadKubeConfig(kubeconfigYaml: string) {
  const k8s = await import('@kubernetes/client-node').catch((err: Error) => {
    throw new Error(`cannot load @kubernetes/client-node (npm ci installs it): ${err.message}`);
  });
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromString(kubeconfigYaml);
  } catch (err) {
    throw new Error(`the kubeconfig is not valid: ${(err as Error).message}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) throw new Error('the kubeconfig names no current cluster');
  return { k8s, kc };
}

export async function kubeClientFromKubeconfig(kubeconfigYaml: string): Promise<KubeClient> {
  const { k8s, kc } = await loadKubeConfig(kubeconfigYaml);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async listPods(namespace, labelSelector) {
      const list = await core.listNamespacedPod({ namespace, labelSelector });
      return list.items.map(podInfo);
    },
    async deletePods(namespace, labelSelector) {
      await core.deleteCollectionNamespacedPod({ namespace, labelSelector });
    },
    async readPodLog(namespace, name, container) {
      return core.readNamespacedPodLog({ namespace, name, container });
    },
  };
}

/** The fields of a V1Pod the experiment uses. */
export function podInfo(pod: V1Pod): PodInfo {
  const statuses = pod.status?.containerStatuses ?? [];
  return {
    name: pod.metadata?.name ?? '?',
    uid: pod.metadata?.uid ?? '',
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    phase: pod.status?.phase ?? 'Unknown',
    terminating: !!pod.metadata?.deletionTimestamp,
    containers: (pod.spec?.containers ?? []).map((c) => c.name),
    waitingReason: statuses.map((s) => s.state?.waiting?.reason).find((r): r is string => !!r),
  };
}
