import { setTimeout as sleep } from 'node:timers/promises';
import type { AppendFsync } from '../../infra/persistence';
import { AOF_LOADED } from '../local/redis-server';
import type { ChatApi } from './api';
import { TargetError, type KillResult, type Target, type TargetInfo } from './target';

/** The little of a pod the experiment looks at. */
export interface PodInfo {
  name: string;
  uid: string;
  /** The pod's Ready condition is True. */
  ready: boolean;
  phase: string;
  /** metadata.deletionTimestamp is set: the old pod on its way out. */
  terminating: boolean;
  containers: string[];
  /** e.g. "ContainerCreating", "CrashLoopBackOff", for the timeout message. */
  waitingReason?: string;
}

/**
 * The Kubernetes calls the cluster target makes. Implemented with
 * @kubernetes/client-node in kube.ts (ESM-only, loaded with a dynamic import), and by
 * a stub in the tests.
 */
export interface KubeClient {
  listPods(namespace: string, labelSelector: string): Promise<PodInfo[]>;
  /** `kubectl delete pod -l <labelSelector>`. */
  deletePods(namespace: string, labelSelector: string): Promise<void>;
  readPodLog(namespace: string, pod: string, container?: string): Promise<string>;
}

export interface ClusterTargetOptions {
  url: string;
  kube: KubeClient;
  api: ChatApi;
  persistence: boolean;
  appendfsync: AppendFsync | null;
  namespace?: string;
  /** Pods of redis-deployment. */
  redisSelector?: string;
  /** Pods of chat-app-deployment: as many /readyz 200s in a row as there are of them. */
  appSelector?: string;
  /** How long a new Redis pod gets to become Ready. */
  readyTimeoutMs?: number;
  pollMs?: number;
  /** Where the deployment came from, for the report header. */
  source?: string;
}

/** A deployed stack: `kubectl delete pod -l app=redis`, the new pod's log, the load balancer. */
export class ClusterTarget implements Target {
  readonly kind = 'cluster' as const;
  private readonly namespace: string;
  private readonly redisSelector: string;
  private readonly appSelector: string;
  private readonly pollMs: number;

  constructor(private readonly opts: ClusterTargetOptions) {
    this.namespace = opts.namespace ?? 'default';
    this.redisSelector = opts.redisSelector ?? 'app=redis';
    this.appSelector = opts.appSelector ?? 'app=chat-app';
    this.pollMs = opts.pollMs ?? 1000;
  }

  async start(): Promise<TargetInfo> {
    const pods = await this.redisPods();
    if (!pods.some((p) => p.ready && !p.terminating)) {
      throw new TargetError(
        `no Ready Redis pod (${this.redisSelector}) in namespace ${this.namespace}: ${describePods(pods)}. Is the stack deployed (pulumi up) and healthy?`,
      );
    }
    if (!(await this.opts.api.ready())) {
      throw new TargetError(
        `${this.opts.api.base}/readyz does not answer 200: the chat service is not ready behind its load balancer`,
      );
    }
    const redis = this.opts.persistence
      ? `AOF (appendfsync ${this.opts.appendfsync ?? 'everysec'})`
      : 'memory-only Redis';
    return {
      url: this.opts.url,
      persistence: this.opts.persistence,
      appendfsync: this.opts.persistence ? (this.opts.appendfsync ?? 'everysec') : null,
      description: `cluster: ${this.opts.url}, namespace ${this.namespace}, ${redis}${this.opts.source ? ` (${this.opts.source})` : ''}`,
    };
  }

  /**
   * Deletes the pods labelled app=redis, then waits for a Ready pod with a new uid
   * (the ReplicaSet's replacement) and reads its log for the AOF load line.
   */
  async killRedis(): Promise<KillResult> {
    const before = await this.redisPods();
    if (before.length === 0) {
      throw new TargetError(`no pods labelled ${this.redisSelector} in namespace ${this.namespace}: nothing to delete`);
    }
    const old = new Set(before.map((p) => p.uid));
    const began = Date.now();
    await this.kube('delete the Redis pod', () => this.opts.kube.deletePods(this.namespace, this.redisSelector));
    const timeoutMs = this.opts.readyTimeoutMs ?? 300_000;
    for (;;) {
      const pods = await this.redisPods();
      const fresh = pods.filter((p) => !old.has(p.uid) && !p.terminating);
      const ready = fresh.find((p) => p.ready);
      if (ready) {
        const redisRecoveryMs = Date.now() - began;
        const container = ready.containers.includes('redis') ? 'redis' : ready.containers[0];
        const log = await this.kube(`read the log of pod ${ready.name}`, () =>
          this.opts.kube.readPodLog(this.namespace, ready.name, container),
        );
        return { redisRecoveryMs, aofLoaded: AOF_LOADED.test(log) };
      }
      if (Date.now() - began > timeoutMs) {
        throw new TargetError(
          `no new Redis pod (${this.redisSelector}, namespace ${this.namespace}) became Ready within ${Math.round(timeoutMs / 1000)} s ` +
            `after deleting ${before.map((p) => p.name).join(', ')}; new pods: ${describePods(fresh)}. ` +
            'See `kubectl describe pod -l app=redis` (a volume still attached to the old node is a common cause)',
        );
      }
      await sleep(this.pollMs);
    }
  }

  /** GET /readyz through the load balancer: as many 200s in a row as there are chat pods (at least 2). */
  async waitServiceReady(timeoutMs: number): Promise<void> {
    let want = 2;
    try {
      want = Math.max(2, (await this.opts.kube.listPods(this.namespace, this.appSelector)).length);
    } catch {
      /* the streak of 2 will do */
    }
    const began = Date.now();
    let streak = 0;
    while (streak < want) {
      if (Date.now() - began > timeoutMs) {
        throw new TargetError(
          `${this.opts.api.base}/readyz did not answer 200 within ${Math.round(timeoutMs / 1000)} s after the kill`,
        );
      }
      streak = (await this.opts.api.ready()) ? streak + 1 : 0;
      if (streak < want) await sleep(streak === 0 ? Math.min(250, this.pollMs) : 50);
    }
  }

  async stop(): Promise<void> {
    /* nothing of ours runs in the cluster */
  }

  private redisPods(): Promise<PodInfo[]> {
    return this.kube(`list pods ${this.redisSelector}`, () =>
      this.opts.kube.listPods(this.namespace, this.redisSelector),
    );
  }

  private async kube<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof TargetError) throw err;
      throw new TargetError(`Kubernetes: cannot ${what} in namespace ${this.namespace}: ${kubeErrorText(err)}`);
    }
  }
}

export function describePods(pods: readonly PodInfo[]): string {
  if (pods.length === 0) return 'none';
  return pods
    .map(
      (p) =>
        `${p.name} (${p.phase}${p.waitingReason ? `, ${p.waitingReason}` : ''}${p.ready ? ', Ready' : ', not Ready'}${p.terminating ? ', terminating' : ''})`,
    )
    .join(', ');
}

/** A readable line from a @kubernetes/client-node ApiException (code + body) or any error. */
export function kubeErrorText(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: string };
  if (typeof e?.code === 'number') {
    let detail: string;
    try {
      const body: unknown = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      detail = (body as { message?: string } | undefined)?.message ?? '';
    } catch {
      detail = typeof e.body === 'string' ? e.body.slice(0, 200) : '';
    }
    const hint =
      e.code === 401
        ? " (the kubeconfig's credentials were refused; DOKS kubeconfig tokens expire after 7 days: fetch a fresh one with `pulumi stack output kubeconfig --show-secrets` after `pulumi up`, or `doctl kubernetes cluster kubeconfig save`)"
        : '';
    return `HTTP ${e.code}${detail ? `: ${detail}` : ''}${hint}`;
  }
  return e?.message ?? String(err);
}
