/**
 * Redis as the tutorial deploys it (redis-deployment, redis-service, redis-pvc), with the
 * persistence switch: memory-only, or an append-only file on a block-storage volume.
 *
 * The command line, the volume and the rollout strategy come from `redisPlan`, the same
 * function the local stack starts `redis-server` with.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { createHash } from 'node:crypto';
import { AppendFsync, redisCommandLine, redisLaunch, redisPlan, RedisPlan } from './persistence';
import {
  labels,
  NAMES,
  REDIS_PASSWORD_ANNOTATION,
  REDIS_PASSWORD_KEY,
  REDIS_PORT,
  restrictedContainer,
  restrictedPod,
} from './k8s-common';
import { restoreSource, type RestoreArgs } from './restore';

/** Pinned Redis 7 (7.4.6 carries the fix for CVE-2025-49844); alpine for a small image. */
export const REDIS_IMAGE = 'redis:7.4.6-alpine';
/**
 * The official image's redis user (uid 999), and the group the pod runs as and the volume is
 * handed to (fsGroup). 999 is not the image's redis group: the alpine image adds `redis` with
 * gid 1000 because alpine already uses 999 (docker-library/redis <version>/alpine/Dockerfile:
 * `addgroup -S -g 1000 redis`; the Debian image uses 999). Nothing depends on the name: the
 * pod sets runAsUser, runAsGroup and fsGroup numerically.
 */
export const REDIS_UID = 999;
export const REDIS_GID = 999;
/** Where the volume is mounted, and Redis's --dir when persistent. */
export const REDIS_DATA_DIR = '/data';

export interface RedisArgs {
  provider: k8s.Provider;
  /** app.kubernetes.io/instance, e.g. chat-stateful. */
  instance: string;
  persistent: boolean;
  appendfsync: AppendFsync;
  storageClass: string;
  storageSize: string;
  /** When not given, one is generated and kept in the stack state (secret). */
  password?: pulumi.Input<string>;
  /**
   * Pulumi `protect` on the volume claim: deleting redis-pvc deletes the volume (reclaim
   * policy Delete), so neither `pulumi destroy` nor a switch to memory-only may do it until
   * `pulumi state unprotect`.
   */
  protect?: boolean;
  /** chat:restoreFrom: redis-pvc starts from this DigitalOcean volume snapshot (see restore.ts). */
  restore?: Omit<RestoreArgs, 'provider'>;
}

/**
 * A short digest of the password for the pod-template annotation (REDIS_PASSWORD_ANNOTATION):
 * it changes whenever the password does, and does not reveal it.
 */
export function passwordDigest(password: string): string {
  return createHash('sha256').update(`doks-chat redis-auth\0${password}`).digest('hex').slice(0, 16);
}

/** `redis-cli` reads the password from REDISCLI_AUTH; a probe passes only on PONG (not LOADING). */
const PING = ['sh', '-c', 'redis-cli -p 6379 ping | grep -q PONG'];

export class Redis extends pulumi.ComponentResource {
  readonly plan: RedisPlan;
  /** The redis-server command line the pod runs (without the password). */
  readonly commandLine: string;
  /** Host the chat replicas connect to. */
  readonly serviceName: pulumi.Output<string>;
  readonly port = REDIS_PORT;
  /** The Secret holding the password, under REDIS_PASSWORD_KEY. */
  readonly secretName: pulumi.Output<string>;
  /** passwordDigest of the password (secret): pods that read the Secret carry it as an annotation. */
  readonly passwordDigest: pulumi.Output<string>;
  readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super('doks-chat:infra:Redis', name, {}, opts);
    const child = { parent: this, provider: args.provider };

    this.plan = redisPlan(args.persistent, args.appendfsync);
    this.commandLine = redisCommandLine(this.plan);
    const podLabels = labels('redis', 'database', args.instance);

    const password =
      args.password ??
      new random.RandomPassword('redis-password', { length: 32, special: false }, { parent: this }).result;

    // Stays secret in the state (derived from the password).
    this.passwordDigest = pulumi.secret(pulumi.output(password).apply(passwordDigest));

    const secret = new k8s.core.v1.Secret(
      NAMES.redisSecret,
      {
        metadata: { name: NAMES.redisSecret, labels: podLabels },
        type: 'Opaque',
        stringData: { [REDIS_PASSWORD_KEY]: pulumi.secret(password) },
      },
      child,
    );

    const dependsOn: pulumi.Resource[] = [];
    const volumes: k8s.types.input.core.v1.Volume[] = [];
    const volumeMounts: k8s.types.input.core.v1.VolumeMount[] = [];
    if (this.plan.needsVolume) {
      const dataSource = args.restore ? restoreSource(this, { ...args.restore, provider: args.provider }) : undefined;
      const pvc = new k8s.core.v1.PersistentVolumeClaim(
        NAMES.redisPvc,
        {
          metadata: { name: NAMES.redisPvc, labels: podLabels },
          spec: {
            // Block storage attaches to one node at a time.
            accessModes: ['ReadWriteOnce'],
            storageClassName: args.storageClass,
            resources: { requests: { storage: args.storageSize } },
            dataSource,
          },
        },
        // A claim's dataSource is fixed at creation (the API server refuses a change), and
        // Kubernetes fills dataSourceRef from it: neither is a diff once the claim exists, also
        // after chat:restoreFrom is unset.
        { ...child, protect: args.protect ?? false, ignoreChanges: ['spec.dataSource', 'spec.dataSourceRef'] },
      );
      dependsOn.push(pvc);
      volumes.push({ name: 'redis-data', persistentVolumeClaim: { claimName: NAMES.redisPvc } });
      volumeMounts.push({ name: 'redis-data', mountPath: REDIS_DATA_DIR });
    }
    // With a volume, redis-server starts behind a lock on /data (see redisLaunch), so a
    // replacement pod on the same node waits for the old redis-server to exit.
    // $(REDIS_PASSWORD) is expanded by Kubernetes from the env below and reaches redis-server
    // as one argument ("$@"): no shell ever parses it.
    const launch = redisLaunch(this.plan, REDIS_DATA_DIR, [
      '--port',
      String(REDIS_PORT),
      '--requirepass',
      '$(REDIS_PASSWORD)',
    ]);

    const passwordEnv: k8s.types.input.core.v1.EnvVar[] = ['REDIS_PASSWORD', 'REDISCLI_AUTH'].map((envName) => ({
      name: envName,
      valueFrom: { secretKeyRef: { name: secret.metadata.name, key: REDIS_PASSWORD_KEY } },
    }));

    this.deployment = new k8s.apps.v1.Deployment(
      NAMES.redisDeployment,
      {
        metadata: { name: NAMES.redisDeployment, labels: podLabels },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'redis' } },
          // An RWO volume under RollingUpdate can deadlock on Multi-Attach, hence Recreate
          // when persistent. rollingUpdate is set explicitly otherwise so that this program
          // owns the field and server-side apply removes it on the switch to Recreate
          // (pulumi/pulumi-kubernetes#2843).
          strategy:
            this.plan.strategy === 'Recreate'
              ? { type: 'Recreate' }
              : { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            // A new password rolls the pod (the env below is read only at container start).
            metadata: { labels: podLabels, annotations: { [REDIS_PASSWORD_ANNOTATION]: this.passwordDigest } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPod(REDIS_UID, REDIS_GID, {
                // Non-root Redis must be able to create /data/appendonlydir on the volume.
                fsGroup: REDIS_GID,
                fsGroupChangePolicy: 'OnRootMismatch',
              }),
              // Redis gets SIGTERM first; with AOF it flushes before exiting.
              terminationGracePeriodSeconds: 30,
              containers: [
                {
                  name: 'redis',
                  image: REDIS_IMAGE,
                  command: launch.command,
                  args: launch.args,
                  env: passwordEnv,
                  ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }],
                  volumeMounts,
                  // Redis writes only to /data (the volume when persistent, nothing when memory-only).
                  securityContext: { ...restrictedContainer, readOnlyRootFilesystem: true },
                  resources: {
                    requests: { cpu: '50m', memory: '64Mi' },
                    limits: { cpu: '500m', memory: '256Mi' },
                  },
                  // Loading a long append-only file answers LOADING, not PONG: allow it 15 minutes
                  // before liveness takes over.
                  startupProbe: {
                    exec: { command: PING },
                    periodSeconds: 5,
                    timeoutSeconds: 3,
                    failureThreshold: this.plan.needsVolume ? 180 : 24,
                  },
                  readinessProbe: { exec: { command: PING }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
                  livenessProbe: { exec: { command: PING }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                },
              ],
              volumes,
            },
          },
        },
      },
      { ...child, dependsOn },
    );

    const service = new k8s.core.v1.Service(
      NAMES.redisService,
      {
        metadata: { name: NAMES.redisService, labels: podLabels },
        spec: {
          type: 'ClusterIP',
          selector: { app: 'redis' },
          ports: [{ name: 'redis', protocol: 'TCP', port: REDIS_PORT, targetPort: REDIS_PORT }],
        },
      },
      child,
    );

    // Only the chat pods may open a connection to Redis.
    new k8s.networking.v1.NetworkPolicy(
      NAMES.redisNetworkPolicy,
      {
        metadata: { name: NAMES.redisNetworkPolicy, labels: podLabels },
        spec: {
          podSelector: { matchLabels: { app: 'redis' } },
          policyTypes: ['Ingress'],
          ingress: [
            {
              from: [{ podSelector: { matchLabels: { app: 'chat-app' } } }],
              ports: [{ protocol: 'TCP', port: REDIS_PORT }],
            },
          ],
        },
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.secretName = secret.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName, secretName: this.secretName, commandLine: this.commandLine });
  }
}
