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
  /** Node labels the pod must run on (the workers pool on a created cluster); none otherwise. */
  nodeSelector?: Record<string, string>;
  /** The record of the class redis-pvc was created with (recordStorageClass), when it has a volume. */
  storageClassRecord?: pulumi.Resource;
}

/**
 * Why a chat:storageClass change is refused on a stack that has redis-pvc (storageClassName
 * is the class the claim was created with, `wanted` the configured one).
 */
export function storageClassChangeMessage(storageClassName: string, wanted: string): string {
  return (
    `chat:storageClass is "${wanted}", but redis-pvc was created with "${storageClassName}". A claim's storage ` +
    'class cannot change: pulumi-kubernetes would replace redis-pvc (spec.storageClassName forces a new claim, ' +
    'provider/pkg/provider/diff.go), and the old volume, reclaim policy Delete, would be deleted with the chat ' +
    'history once the claim is unprotected. redis-pvc is left as it is.\n' +
    `  - Keep the volume: \`pulumi config set chat:storageClass ${storageClassName}\`.\n` +
    '  - Move to the new class and lose the history (copy it out first, infra/README.md "Destroy"): ' +
    '`pulumi state unprotect --all --yes && pulumi config set chat:persistence false && pulumi up`, then ' +
    `\`pulumi config set chat:storageClass ${wanted} && pulumi config set chat:persistence true && pulumi up\`.`
  );
}

/** The name of the Stash that records the class redis-pvc was created with. */
export const STORAGE_CLASS_RECORD = `${NAMES.redisPvc}-storage-class`;

/**
 * Records the storage class redis-pvc is created with, and refuses a different
 * chat:storageClass on a stack whose claim already exists, before the claim (or anything
 * after it) is declared. Only for a stack with a volume.
 *
 * The record is a Stash in the stack's state: it keeps the value it was first given in
 * `output`, whatever later runs pass as `input` (Pulumi's builtin pulumi:index:Stash,
 * pulumi/pulumi pkg/resource/deploy/builtins.go: Update returns the old "output"; Pulumi CLI
 * 3.208 or newer). As the running cluster's version is read before the cluster is declared
 * (cluster.ts clusterVersion), the claim's class is read before the claim is. A different
 * class would make pulumi-kubernetes replace the claim (spec.storageClassName is in its
 * forceNew list for PersistentVolumeClaim: pulumi/pulumi-kubernetes
 * provider/pkg/provider/diff.go), and the old volume, reclaim policy Delete, would go with
 * the history once unprotected. The Stash resolves in preview too (the builtin provider's
 * Update and Create run there), so `pulumi preview` refuses as well.
 *
 * The record lives exactly as long as the claim: protected with it, and the claim depends on
 * it, so a switch to memory-only deletes the claim first and then the record, and a later
 * switch back records the class the new claim gets. A stack whose claim predates the record
 * gets it on its next run, with the class configured then.
 */
export async function recordStorageClass(
  storageClass: string,
  opts: pulumi.CustomResourceOptions = {},
): Promise<pulumi.Resource> {
  const record = new pulumi.Stash(STORAGE_CLASS_RECORD, { input: storageClass }, opts);
  const createdWith: unknown = await new Promise((resolve) =>
    record.output.apply((v: unknown) => {
      resolve(v);
      return v;
    }),
  );
  if (typeof createdWith === 'string' && createdWith !== storageClass) {
    throw new pulumi.RunError(storageClassChangeMessage(createdWith, storageClass));
  }
  return record;
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
  /**
   * The password's revision (REDIS_PASSWORD_ANNOTATION): random, not secret, new with every
   * new password. Pods that read the Secret carry it, so a new password rolls them.
   */
  readonly passwordRevision: pulumi.Output<string>;
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

    // The rollout trigger: 8 random bytes, drawn again whenever the password changes. The
    // password is only the RandomId's keeper: a changed keeper replaces the RandomId, and its
    // Create reads new bytes from crypto/rand (hashicorp/terraform-provider-random
    // internal/provider/resource_id.go: `keepers` RequiresReplaceIfValuesNotNull, Create
    // rand.Reader); the keeper is stored encrypted in the state, as a secret input. The bytes
    // are not computed from the password, so nothing in the pod template can be turned back
    // into it, and no digest of a user-chosen password sits where anyone who may `get pods`
    // can test guesses against it. Chosen over an HMAC of the password under a per-stack
    // key: that would still be derived from the password (open to guessing by whoever reads
    // the key from the state), this is not.
    //
    // Not secret: the engine marks secret only the outputs named like a secret input (here
    // `keepers`, not `hex`: pulumi/pulumi pkg/resource/deploy/step_executor.go, "If an input
    // secret is potentially leaked as an output, preemptively mark it as secret"), and unsecret
    // says so explicitly, whatever the provider reports: an annotation holding a secret turns
    // the whole Deployment spec secret, and every preview of either Deployment then shows
    // `spec: [secret]` (issue 17). Safe, because the value tells nothing about the password
    // beyond "it changed".
    const revision = new random.RandomId(
      'redis-password-revision',
      { byteLength: 8, keepers: { redisPassword: pulumi.secret(password) } },
      { parent: this },
    );
    this.passwordRevision = pulumi.unsecret(revision.hex);

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
        // after chat:restoreFrom is unset. After the record of its class (recordStorageClass),
        // so a deletion removes the claim first.
        {
          ...child,
          protect: args.protect ?? false,
          ignoreChanges: ['spec.dataSource', 'spec.dataSourceRef'],
          dependsOn: args.storageClassRecord ? [args.storageClassRecord] : [],
        },
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
            metadata: { labels: podLabels, annotations: { [REDIS_PASSWORD_ANNOTATION]: this.passwordRevision } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPod(REDIS_UID, REDIS_GID, {
                // Non-root Redis must be able to create /data/appendonlydir on the volume.
                fsGroup: REDIS_GID,
                fsGroupChangePolicy: 'OnRootMismatch',
              }),
              // Redis gets SIGTERM first; with AOF it flushes before exiting.
              terminationGracePeriodSeconds: 30,
              // On the workers pool, never the small default node (cluster.ts WORKERS_LABEL).
              nodeSelector: args.nodeSelector,
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
