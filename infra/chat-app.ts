/**
 * The chat replicas (chat-app-deployment) behind a DigitalOcean load balancer (chat-app-lb).
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { CHAT_PORT, labels, NAMES, REDIS_PASSWORD_KEY, restrictedContainer, restrictedPod } from './k8s-common';

/** The node user of the official Node images; numeric so the kubelet can verify runAsNonRoot. */
export const CHAT_UID = 1000;
export const CHAT_GID = 1000;

const DO_LB = 'service.beta.kubernetes.io/do-loadbalancer-';

/**
 * DigitalOcean load balancer settings (digitalocean-cloud-controller-manager annotations).
 * HTTP mode: the balancer health-checks /readyz, so a replica that lost Redis gets no
 * traffic, and it adds X-Forwarded-For with the client's address.
 */
export function loadBalancerAnnotations(lbName: string): Record<string, string> {
  return {
    [`${DO_LB}name`]: lbName,
    [`${DO_LB}protocol`]: 'http',
    [`${DO_LB}healthcheck-protocol`]: 'http',
    [`${DO_LB}healthcheck-path`]: '/readyz',
    // The live feed is one long-lived response; the default idle timeout (60 s) would cut
    // quiet feeds. 600 s is the maximum DigitalOcean allows.
    [`${DO_LB}http-idle-timeout-seconds`]: '600',
  };
}

export interface ChatAppArgs {
  provider: k8s.Provider;
  instance: string;
  image: pulumi.Input<string>;
  replicas: number;
  historyLimit: number;
  rateLimitPerMin?: number;
  redisHost: pulumi.Input<string>;
  redisPort: number;
  /** Secret with the Redis password under REDIS_PASSWORD_KEY. */
  redisSecretName: pulumi.Input<string>;
  /** `{"auths": ...}` to pull a private image with (secret); none for public or preloaded images. */
  pullCredentials?: pulumi.Input<string>;
}

export class ChatApp extends pulumi.ComponentResource {
  /** http://<load balancer address> */
  readonly url: pulumi.Output<string>;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;

  constructor(name: string, args: ChatAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super('doks-chat:infra:ChatApp', name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const podLabels = labels('chat-app', 'web', args.instance);
    const selector = { app: 'chat-app' };

    const imagePullSecrets: k8s.types.input.core.v1.LocalObjectReference[] = [];
    if (args.pullCredentials !== undefined) {
      const pullSecret = new k8s.core.v1.Secret(
        NAMES.chatPullSecret,
        {
          metadata: { name: NAMES.chatPullSecret, labels: podLabels },
          type: 'kubernetes.io/dockerconfigjson',
          stringData: { '.dockerconfigjson': pulumi.secret(args.pullCredentials) },
        },
        child,
      );
      imagePullSecrets.push({ name: pullSecret.metadata.name });
    }

    const env: k8s.types.input.core.v1.EnvVar[] = [
      { name: 'PORT', value: String(CHAT_PORT) },
      { name: 'REDIS_URL', value: pulumi.interpolate`redis://${args.redisHost}:${args.redisPort}` },
      { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: args.redisSecretName, key: REDIS_PASSWORD_KEY } } },
      { name: 'HISTORY_LIMIT', value: String(args.historyLimit) },
      // The pod name, so the page shows which replica serves it.
      { name: 'REPLICA_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      // The DigitalOcean load balancer (HTTP mode) is one proxy hop: trust its X-Forwarded-For,
      // so the per-client rate limit counts browsers, not the balancer.
      { name: 'TRUST_PROXY', value: '1' },
    ];
    if (args.rateLimitPerMin !== undefined) env.push({ name: 'RATE_LIMIT_PER_MIN', value: String(args.rateLimitPerMin) });

    this.deployment = new k8s.apps.v1.Deployment(
      NAMES.chatDeployment,
      {
        metadata: { name: NAMES.chatDeployment, labels: podLabels },
        spec: {
          replicas: args.replicas,
          selector: { matchLabels: selector },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: { labels: podLabels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPod(CHAT_UID, CHAT_GID),
              imagePullSecrets,
              // The service ends live feeds and in-flight requests within 10 s of SIGTERM.
              terminationGracePeriodSeconds: 20,
              // Prefer one replica per node, so losing a node does not take the chat down; soft,
              // so a cordoned node during an upgrade never blocks scheduling.
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: 'kubernetes.io/hostname',
                  whenUnsatisfiable: 'ScheduleAnyway',
                  labelSelector: { matchLabels: selector },
                },
              ],
              containers: [
                {
                  name: 'chat',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  ports: [{ name: 'http', containerPort: CHAT_PORT, protocol: 'TCP' }],
                  env,
                  readinessProbe: {
                    httpGet: { path: '/readyz', port: 'http' },
                    periodSeconds: 5,
                    timeoutSeconds: 3,
                    failureThreshold: 2,
                  },
                  livenessProbe: {
                    httpGet: { path: '/healthz', port: 'http' },
                    initialDelaySeconds: 10,
                    periodSeconds: 10,
                    timeoutSeconds: 3,
                    failureThreshold: 3,
                  },
                  resources: {
                    requests: { cpu: '50m', memory: '96Mi' },
                    // 256 Mi: the replica's V8 old-space limit (app/src/node-flags.ts) plus room for the rest of the process.
                    limits: { cpu: '500m', memory: '256Mi' },
                  },
                  // The image runs `node` directly and writes nothing to disk.
                  securityContext: { ...restrictedContainer, readOnlyRootFilesystem: true },
                },
              ],
            },
          },
        },
      },
      child,
    );

    // Voluntary disruptions (node drains during upgrades) take at most one replica at a time,
    // and never block a drain even with a single replica.
    new k8s.policy.v1.PodDisruptionBudget(
      NAMES.chatPdb,
      {
        metadata: { name: NAMES.chatPdb, labels: podLabels },
        spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
      },
      child,
    );

    this.service = new k8s.core.v1.Service(
      NAMES.chatService,
      {
        metadata: { name: NAMES.chatService, labels: podLabels, annotations: loadBalancerAnnotations(args.instance) },
        spec: {
          type: 'LoadBalancer',
          selector,
          ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' }],
          // Traffic goes only to nodes that run a chat pod and is not forwarded (and
          // source-NATed) to another node, so the balancer's X-Forwarded-For is the only hop.
          externalTrafficPolicy: 'Local',
        },
      },
      { ...child, dependsOn: [this.deployment] },
    );

    this.url = this.service.status.apply((s) => {
      const ingress = s?.loadBalancer?.ingress?.[0];
      return `http://${ingress?.ip ?? ingress?.hostname ?? 'pending'}`;
    });
    this.registerOutputs({ url: this.url });
  }
}
