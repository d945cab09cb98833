/**
 * The stack, as the architecture draws it:
 *
 *   cluster ──► image (registry + build) ──► redis ──► chat app ──► load balancer URL
 *                         (chat:domain) certificate ──┘        └──► DNS name ──► https URL
 *
 * Only wiring: each box is a component with its own module.
 */
import * as pulumi from '@pulumi/pulumi';
import { ChatApp } from './chat-app';
import { ChatCluster, clusterVersion } from './cluster';
import type { ChatConfig } from './config';
import { digitalOceanApi } from './digitalocean-api';
import { checkDnsName, DnsName, HttpsCertificate } from './domain';
import { ChatImage } from './image';
import { NAMES } from './k8s-common';
import { recordStorageClass, Redis } from './redis';
import { previousOutputs } from './previous-deployment';
import { instanceName } from './instance-name';
import { ManagedValkey } from './managed-valkey';
import { stackCost } from './stack-cost';
import { guardRedisSwitch } from './redis-switch';
import type { MonthlyCost } from './prices';

export { instanceName };

export interface StackOutputs {
  /** https://<chat:domain>, else http://<load balancer IP>. */
  url: pulumi.Output<string>;
  /** The load balancer's IPv4 address, with or without chat:domain. */
  loadBalancerIp: pulumi.Output<string | null>;
  kubeconfig: pulumi.Output<string>;
  clusterName: pulumi.Output<string>;
  /** null when chat:image is set (nothing is pushed). */
  registryEndpoint: pulumi.Output<string | null>;
  image: pulumi.Output<string>;
  /** What Redis does with the data: "memory" or "aof". */
  persistence: string;
  /** everysec | always when persistent, else null. */
  appendfsync: string | null;
  redisCommand: string;
  experiment: Record<string, string>;
  /** chat:restoreFrom when redis-pvc was created from it, else null (restore.ts reads it back). */
  restoredFrom: string | null;
  /** Where the history lives: "pod" or "managed" (chat:redis); fails on a refused switch. */
  redis: pulumi.Output<string>;
  /** The monthly list price of what the stack declares (infra/prices.ts). */
  monthlyCost: MonthlyCost;
}

/** The tutorial's experiment, as commands for this stack. */
export function experimentCommands(persistent: boolean): Record<string, string> {
  return {
    useCluster:
      'pulumi stack output kubeconfig --show-secrets > kubeconfig.yaml && export KUBECONFIG=$PWD/kubeconfig.yaml',
    openChat: 'open "$(pulumi stack output url)"   # or paste it into a browser',
    watchLoadBalancer: `kubectl get svc ${NAMES.chatService} -w`,
    crashRedis: 'kubectl delete pod -l app=redis',
    watchRedis: 'kubectl get pods -l app=redis -w',
    redisLog: `kubectl logs deployment/${NAMES.redisDeployment}`,
    expect: persistent
      ? 'After the new Redis pod is ready, reload: the history is still there; its log says "DB loaded from append only file".'
      : 'After the new Redis pod is ready, reload: the history is gone (memory-only Redis).',
    switch: persistent
      ? // redis-pvc is protected on a stateful stack: deleting it deletes the volume and its history.
        'pulumi state unprotect --all --yes && pulumi config set chat:persistence false && pulumi up   # back to memory-only: deletes the volume'
      : 'pulumi config set chat:persistence true && pulumi up   # or: pulumi up -s stateful',
  };
}

/** chat:redis managed: there is no Redis pod to delete; what the experiment can do instead. */
export function managedExperimentCommands(persistence: 'rdb' | 'off'): Record<string, string> {
  return {
    useCluster:
      'pulumi stack output kubeconfig --show-secrets > kubeconfig.yaml && export KUBECONFIG=$PWD/kubeconfig.yaml',
    openChat: 'open "$(pulumi stack output url)"   # or paste it into a browser',
    crashRedis:
      'not possible here: the managed database cannot be killed from the cluster. Measure what a crash between ' +
      'dumps loses with the local emulation: npm run experiment -- --stack stateful --redis managed',
    expect:
      persistence === 'rdb'
        ? 'A crash of the managed node loses what was written since its last RDB dump (at most 10 minutes); a standby node (chat:redisStandby) takes over instead.'
        : 'persistence off: a restart of the managed node loses the whole history.',
  };
}

/** The value of a known Output (the config's secrets are known, also in preview). */
function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) =>
    o.apply((v) => {
      resolve(v);
      return v;
    }),
  );
}

/**
 * What DigitalOcean says before anything is declared, so that a refusal leaves everything as
 * it was: the Kubernetes version the cluster is declared with (the running one, or a step
 * DOKS accepts; cluster.ts clusterVersion), and whether chat:domain's name is free for the
 * chat's A record (domain.ts checkDnsName).
 */
export async function preflight(cfg: ChatConfig, instance: string): Promise<{ version?: string }> {
  const [version] = await Promise.all([
    cfg.kubeconfig === undefined
      ? valueOf(cfg.doToken as pulumi.Output<string>).then((token) =>
          clusterVersion(instance, cfg.kubernetesVersion, digitalOceanApi(token)),
        )
      : undefined,
    // chat-app-lb names its balancer after the instance (loadBalancerAnnotations).
    cfg.domain !== undefined ? checkDnsName(cfg.domain.name, cfg.domain.zone, instance) : undefined,
  ]);
  return { version };
}

/**
 * Declares the stack, after the checks that ask DigitalOcean (preflight). `opts` reach every
 * component (and so every resource); the tests pass transformations through it to see
 * resource options such as protect.
 */
export async function createStack(cfg: ChatConfig, opts: pulumi.ComponentResourceOptions = {}): Promise<StackOutputs> {
  const instance = instanceName(cfg.stack);
  // A stateful stack keeps chat history on a volume that dies with its claim or its cluster:
  // both are protected, lifted only by `pulumi state unprotect --all` (see infra docs).
  const protect = cfg.persistence;

  const { version } = await preflight(cfg, instance);
  // The class redis-pvc was created with, checked before anything else is declared.
  const storageClassRecord =
    cfg.persistence && cfg.redis === 'pod'
      ? await recordStorageClass(cfg.storageClass, { ...opts, protect })
      : undefined;

  const cluster = new ChatCluster(
    'cluster',
    cfg.kubeconfig !== undefined
      ? { existingKubeconfig: cfg.kubeconfig }
      : {
          create: {
            name: instance,
            region: cfg.region,
            version: version!,
            nodeSize: cfg.nodeSize,
            nodeCount: cfg.nodeCount,
            autoscale: cfg.autoscale,
            highAvailability: cfg.highAvailability,
            doToken: cfg.doToken as pulumi.Output<string>,
            tags: ['doks-chat', instance],
            protect,
          },
        },
    opts,
  );

  const image = new ChatImage(
    'image',
    cfg.image !== undefined ? { prebuilt: cfg.image } : { registry: cfg.registry, instance },
    opts,
  );

  // chat:redis pod (the default): the tutorial's Redis pod, exactly as before. managed: no Redis
  // objects in Kubernetes; the history lives in DigitalOcean Managed Valkey.
  // Checks that hold only on a new stack read its last deployment's outputs, through one
  // self-reference made only when a check needs it (so other stacks declare what they did).
  const restoring = cfg.restoreFrom !== undefined && cfg.persistence;
  const previous = cfg.redisExplicit || restoring ? previousOutputs(opts) : undefined;
  const redisMode = cfg.redisExplicit ? guardRedisSwitch(cfg.redis, previous!) : pulumi.output(cfg.redis);
  const redis =
    cfg.redis === 'pod'
      ? new Redis(
          'redis',
          {
            provider: cluster.provider,
            instance,
            persistent: cfg.persistence,
            appendfsync: cfg.appendfsync,
            storageClass: cfg.storageClass,
            storageSize: cfg.redisStorageSize,
            password: cfg.redisPassword,
            protect,
            restore: restoring ? { snapshotId: cfg.restoreFrom!, previous: previous!, stack: cfg.stack } : undefined,
            nodeSelector: cluster.workloadNodeSelector,
            storageClassRecord,
          },
          opts,
        )
      : undefined;
  const valkey =
    cfg.redis === 'managed'
      ? new ManagedValkey(
          'managed-redis',
          {
            provider: cluster.provider,
            instance,
            region: cfg.region,
            size: cfg.redisSize,
            standby: cfg.redisStandby,
            persistent: cfg.persistence,
            // config.ts refuses managed with chat:kubeconfig, so the cluster is created here.
            cluster: cluster.cluster!,
            tags: ['doks-chat', instance],
            // Always: even without snapshots, deleting the database deletes what it holds now.
            protect: true,
          },
          opts,
        )
      : undefined;

  const certificate =
    cfg.domain !== undefined ? new HttpsCertificate('https', { instance, domain: cfg.domain.name }, opts) : undefined;

  const chat = new ChatApp(
    'chat',
    {
      provider: cluster.provider,
      instance,
      image: image.imageRef,
      replicas: cfg.appReplicas,
      historyLimit: cfg.historyLimit,
      rateLimitPerMin: cfg.rateLimitPerMin,
      redisHost: redis?.serviceName,
      redisPort: redis?.port,
      redisSecretName: redis?.secretName,
      redisPasswordRevision: redis?.passwordRevision,
      managedRedis: valkey && {
        secretName: valkey.secretName,
        urlKey: valkey.urlKey,
        urlDigest: valkey.urlDigest,
        persistence: valkey.persistence,
      },
      pullCredentials: image.pullCredentials,
      https: certificate !== undefined ? { certificateName: certificate.certificateName } : undefined,
      nodeSelector: cluster.workloadNodeSelector,
    },
    opts,
  );

  const dnsName =
    cfg.domain !== undefined
      ? new DnsName('dns', { domain: cfg.domain.name, zone: cfg.domain.zone, ip: chat.loadBalancerIp }, opts)
      : undefined;

  return {
    url: dnsName?.url ?? chat.url,
    loadBalancerIp: chat.loadBalancerIp,
    kubeconfig: cluster.kubeconfig,
    clusterName: cluster.clusterName,
    registryEndpoint: image.registryEndpoint ?? pulumi.output(null),
    image: image.imageRef,
    persistence: redis?.plan.mode ?? (valkey!.persistence === 'rdb' ? 'rdb' : 'memory'),
    appendfsync: redis && cfg.persistence ? cfg.appendfsync : null,
    redisCommand: redis?.commandLine ?? valkey!.description,
    experiment: valkey ? managedExperimentCommands(valkey.persistence) : experimentCommands(cfg.persistence),
    redis: redisMode,
    monthlyCost: stackCost(cfg),
    restoredFrom: cfg.persistence ? (cfg.restoreFrom ?? null) : null,
  };
}
