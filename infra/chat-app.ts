/**
 * The chat replicas (chat-app-deployment) behind a DigitalOcean load balancer (chat-app-lb).
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { CONFIG_DEFAULTS as SERVICE_DEFAULTS } from '../app/src/config';
import {
  CHAT_PORT,
  labels,
  NAMES,
  REDIS_PASSWORD_ANNOTATION,
  REDIS_PASSWORD_KEY,
  restrictedContainer,
  restrictedPod,
} from './k8s-common';
import { MANAGED_PERSISTENCE_ENV, type ManagedPersistence } from './managed-redis';

/** The node user of the official Node images; numeric so the kubelet can verify runAsNonRoot. */
export const CHAT_UID = 1000;
export const CHAT_GID = 1000;

const DO_LB = 'service.beta.kubernetes.io/do-loadbalancer-';

/** The annotation that picks the balancer's type; the controller cannot change it in place. */
export const LB_TYPE_ANNOTATION = `${DO_LB}type`;

/**
 * The balancer's health check of each node, named on chat-app-lb rather than left to the
 * controller's defaults, since those can change and the preStop wait below is computed from
 * them. The controller reads these four annotations whatever the traffic policy and without
 * do-loadbalancer-override-health-check (digitalocean/digitalocean-cloud-controller-manager
 * cloud-controller-manager/do/loadbalancers.go buildHealthCheck: healthCheckIntervalSeconds,
 * healthCheckResponseTimeoutSeconds, healthCheckUnhealthyThreshold,
 * healthCheckHealthyThreshold; names in lb_annotations.go). The values are its defaults
 * today (3 s, 5 s, 3, 5; ranges in docs/controllers/services/annotations.md: interval and
 * timeout 3..300, thresholds 2..10).
 */
export const LB_HEALTH_CHECK = {
  intervalSeconds: 3,
  responseTimeoutSeconds: 5,
  unhealthyThreshold: 3,
  healthyThreshold: 5,
} as const;

export type HealthCheck = { [K in keyof typeof LB_HEALTH_CHECK]: number };

/** The health-check annotations for these numbers (strings, as the annotations doc asks). */
export function healthCheckAnnotations(hc: HealthCheck = LB_HEALTH_CHECK): Record<string, string> {
  return {
    [`${DO_LB}healthcheck-check-interval-seconds`]: String(hc.intervalSeconds),
    [`${DO_LB}healthcheck-response-timeout-seconds`]: String(hc.responseTimeoutSeconds),
    [`${DO_LB}healthcheck-unhealthy-threshold`]: String(hc.unhealthyThreshold),
    [`${DO_LB}healthcheck-healthy-threshold`]: String(hc.healthyThreshold),
  };
}

/**
 * The longest a node stays in the balancer's rotation after its health check starts failing:
 * `unhealthyThreshold` failed checks `intervalSeconds` apart, the first of them up to one
 * interval after the change, plus one check's `responseTimeoutSeconds` for a check already
 * under way (14 s with the numbers above; 9 s when every check answers at once).
 */
export function healthCheckWindowSeconds(hc: HealthCheck = LB_HEALTH_CHECK): number {
  return hc.intervalSeconds * hc.unhealthyThreshold + hc.responseTimeoutSeconds;
}

/**
 * A margin for the pod's deletion to reach the node: the EndpointSlice controller marks the
 * endpoint terminating, and the node's Cilium agent then answers the health check 503.
 */
export const ENDPOINT_PROPAGATION_SECONDS = 1;

/**
 * How a chat pod leaves without refusing a connection (rollouts, node drains, surge
 * upgrades; the gap of kubernetes/kubernetes#50977 and #85643). chat-app-lb has
 * externalTrafficPolicy Local, so the balancer learns that a node has no ready chat pod only
 * from its health check on the Service's health-check node port, and keeps sending new
 * connections there for up to healthCheckWindowSeconds. Those can reach only that node's own
 * pod. What happens to them:
 *
 * 1. The pod is deleted. Its endpoint becomes `ready: false, serving: true, terminating:
 *    true` while the pod still passes readiness (EndpointSlice conditions, k8s.io/api
 *    discovery/v1 EndpointConditions; KEP-1669 "Proxy Terminating Endpoints"). Cilium, the
 *    DOKS proxy, then answers the health-check node port 503 (its health server counts only
 *    active local backends: cilium/cilium pkg/loadbalancer/healthserver/healthserver.go
 *    getLocalEndpointCount) while still routing new connections to a terminating-but-serving
 *    backend when no active one is left (pkg/loadbalancer/reflectors/conversions.go
 *    convertEndpoints: BackendStateTerminating "can still be used for new connections when
 *    no active backends are available"; a terminating, not-serving one is never used).
 *    kube-proxy does the same for Local traffic (KEP-1669). So the node drains out of the
 *    balancer while its pod still answers.
 * 2. The kubelet runs preStop first and sends SIGTERM only after it (Kubernetes "Termination
 *    of Pods"). The wait is PRE_STOP_SECONDS, at least the health-check window: the balancer
 *    has stopped sending here before the service closes its listener. Readiness keeps
 *    passing meanwhile; failing it early would turn the endpoint `serving: false`, and Cilium
 *    would drop exactly the connections the balancer still sends.
 * 3. On SIGTERM the service stops accepting, ends the live feeds (browsers reconnect through
 *    the balancer, to another node) and lets requests in flight finish: gone within
 *    DRAIN_SECONDS, which the Deployment passes to it (app/src/main.ts).
 * 4. terminationGracePeriodSeconds covers both, with slack for the kubelet.
 *
 * The wait is a kubelet `sleep` action (KEP-3960 PodLifecycleSleepAction: beta and on by
 * default since Kubernetes 1.30, GA in 1.34), so it needs nothing in the image.
 */
export const PRE_STOP_SECONDS = healthCheckWindowSeconds() + ENDPOINT_PROPAGATION_SECONDS;
/** The service's drain limit after SIGTERM: its own default, passed explicitly as DRAIN_SECONDS. */
export const DRAIN_SECONDS = SERVICE_DEFAULTS.drainSeconds;
/** Slack for the kubelet between the preStop hook, SIGTERM and SIGKILL. */
export const GRACE_SLACK_SECONDS = 5;
export const TERMINATION_GRACE_SECONDS = PRE_STOP_SECONDS + DRAIN_SECONDS + GRACE_SLACK_SECONDS;

/**
 * How chat-app-lb is configured: annotations read by the DigitalOcean cloud controller
 * manager (CCM, github.com/digitalocean/digitalocean-cloud-controller-manager). Each was
 * checked against its docs/controllers/services/annotations.md and the code that reads it,
 * cloud-controller-manager/do/loadbalancers.go (function names below). Values are strings,
 * as the annotations doc asks ("true", not true).
 *
 * Defaults this program relies on without setting them (annotations.md, loadbalancers.go):
 * - network EXTERNAL (getNetwork): a public balancer.
 * - network stack DUALSTACK for REGIONAL (getNetworkStack): the Service status lists the
 *   IPv4 address first, then the IPv6 one (EnsureLoadBalancer builds ingress [IP, IPv6]).
 * - health check, without do-loadbalancer-override-health-check (buildHealthCheck,
 *   healthCheckPathAndPort): HTTP GET /healthz on the Service's spec.healthCheckNodePort,
 *   which exists because externalTrafficPolicy is Local (GetServiceHealthCheckPathPort in
 *   k8s.io/cloud-provider service/helpers). The node's Service proxy answers it with 200
 *   only while that node runs a ready chat pod, and readiness is the pods' /readyz probe:
 *   a replica that lost Redis stops getting traffic. Interval, timeout and thresholds are
 *   set explicitly (LB_HEALTH_CHECK), since the preStop wait depends on them.
 *   The healthcheck-path/-protocol/-port annotations would be ignored without the override;
 *   the override would send the check through the Service's node port to a pod's /readyz
 *   instead, which the annotations doc calls unnecessary in general and which adds nothing
 *   here (the same pods, the same readiness), so neither is set.
 * - size unit 1 (getSizeUnit; digitalocean/openapi load_balancer_base.yml size_unit default 1).
 * - no PROXY protocol, no sticky sessions, no backend keepalive (their getters default false/none).
 *
 * With `https`, port 443 terminates TLS with a DigitalOcean (Let's Encrypt) certificate and
 * forwards plain HTTP to the same node port as port 80 (buildForwardingRules,
 * buildTLSForwardingRule).
 */
export function loadBalancerAnnotations(
  lbName: string,
  https?: LoadBalancerHttps,
): Record<string, pulumi.Input<string>> {
  const annotations: Record<string, pulumi.Input<string>> = {
    // The balancer's name in DigitalOcean (getLoadBalancerName); without it, "a" + the Service UID.
    [`${DO_LB}name`]: lbName,
    // An HTTP (connection-terminating) balancer. Without this annotation the CCM creates its
    // default type, REGIONAL_NETWORK (do/cloud.go defaultLBType, unless the cluster's CCM runs
    // with DEFAULT_LB_TYPE; the default since CCM v0.1.61, CHANGELOG.md): a TCP pass-through
    // balancer whose forwarding rules ignore the protocol annotation
    // (buildRegionalNetworkForwardingRule), so no X-Forwarded-For and no HTTP idle timeout.
    // REGIONAL builds the rules from the annotations below (buildForwardingRules).
    [LB_TYPE_ANNOTATION]: 'REGIONAL',
    // HTTP forwarding to the Service's node port (getProtocol; the default is tcp): the
    // balancer is one proxy hop and passes the browser's address in X-Forwarded-For.
    [`${DO_LB}protocol`]: 'http',
    // Not for the live feed: it writes a keep-alive comment every 15 s (app/src/live-feed.ts),
    // well inside even the default 60 s. The timeout also closes a browser's idle keep-alive
    // connection to the balancer; at 600 s a chat tab that posts now and then reuses its
    // connection instead of opening a new one (and a new TLS session with chat:domain) after
    // each quiet minute. 600 s is the maximum (getHttpIdleTimeoutSeconds; the range 30..600
    // is in digitalocean/openapi specification/resources/load_balancers/models/load_balancer_base.yml).
    [`${DO_LB}http-idle-timeout-seconds`]: '600',
    // The health check the preStop wait is computed from (LB_HEALTH_CHECK).
    ...healthCheckAnnotations(),
  };
  if (https !== undefined) {
    Object.assign(annotations, {
      // Service port 443 is HTTPS (getHTTPSPorts); the others keep the protocol above.
      [`${DO_LB}tls-ports`]: '443',
      // By name, not id: the controller looks the name up at every sync (findCertificateID),
      // and a Let's Encrypt certificate's id changes at each renewal, as annotations.md warns.
      [`${DO_LB}certificate-name`]: https.certificateName,
      // Port 80 answers with a redirect to https:// (getRedirectHTTPToHTTPS; default "false").
      [`${DO_LB}redirect-http-to-https`]: 'true',
      // DigitalOcean would otherwise create DNS records for the certificate's domain itself
      // when the certificate is added to the balancer (getDisableLetsEncryptDNSRecords;
      // default "false"); this program owns that record (domain.ts).
      [`${DO_LB}disable-lets-encrypt-dns-records`]: 'true',
    });
  }
  return annotations;
}

/** TLS on chat-app-lb's port 443. */
export interface LoadBalancerHttps {
  /** The name of a DigitalOcean certificate for the chat's domain. */
  certificateName: pulumi.Input<string>;
}

/** The balancer's IPv4 address from a Service status: the controller lists it first, then the IPv6 one. */
export function loadBalancerIPv4(status: k8s.types.output.core.v1.ServiceStatus | undefined): string | null {
  const ips = (status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
  return ips.find((ip) => /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) ?? null;
}

/**
 * The Service's resource options: the balancer's type cannot change in place. The CCM
 * overwrites the type annotation with the existing balancer's type before it builds the update
 * (retrieveAndAnnotateLoadBalancer in loadbalancers.go), so a stack deployed before the type
 * was set would keep its network balancer. A changed type annotation therefore replaces the
 * Service, and with it the balancer (a new IP). Delete first: the name is fixed, and under
 * server-side apply a "create" of the same name would patch the old object, which the delete
 * of the original would then remove (pulumi/pulumi-kubernetes#4522).
 */
export const LOAD_BALANCER_SERVICE_OPTIONS: Pick<
  pulumi.CustomResourceOptions,
  'replaceOnChanges' | 'deleteBeforeReplace'
> = {
  replaceOnChanges: [`metadata.annotations["${LB_TYPE_ANNOTATION}"]`],
  deleteBeforeReplace: true,
};

export interface ChatAppArgs {
  provider: k8s.Provider;
  instance: string;
  image: pulumi.Input<string>;
  replicas: number;
  historyLimit: number;
  rateLimitPerMin?: number;
  /** The Redis pod (chat:redis pod); ignored when `managedRedis` is set. */
  redisHost?: pulumi.Input<string>;
  redisPort?: number;
  /** Secret with the Redis password under REDIS_PASSWORD_KEY. */
  redisSecretName?: pulumi.Input<string>;
  /** The password's revision (Redis.passwordRevision): a new password rolls the replicas. */
  redisPasswordRevision?: pulumi.Input<string>;
  /** chat:redis managed: REDIS_URL (rediss://) from a Secret, and what the service was configured with. */
  managedRedis?: ManagedRedisRef;
  /** Node labels the pods must run on (the workers pool on a created cluster); none otherwise. */
  nodeSelector?: Record<string, string>;
  /** `{"auths": ...}` to pull a private image with (secret); none for public or preloaded images. */
  pullCredentials?: pulumi.Input<string>;
  /** Serve HTTPS on port 443 too (chat:domain); plain HTTP on port 80 only without it. */
  https?: LoadBalancerHttps;
}

/** Where the chat pods find the managed database (ManagedValkey). */
export interface ManagedRedisRef {
  secretName: pulumi.Input<string>;
  urlKey: string;
  /** A digest of the URL: a new password rolls the replicas. */
  urlDigest: pulumi.Input<string>;
  /** rdb | off: reported by /api/status (managed services refuse CONFIG GET). */
  persistence: ManagedPersistence;
}

/** REDIS_URL for the chat container: the Redis pod's service, or the managed database's URL from its Secret. */
function redisEnv(args: ChatAppArgs): k8s.types.input.core.v1.EnvVar[] {
  if (args.managedRedis !== undefined) {
    const m = args.managedRedis;
    // Never a plain value: the URL carries the password.
    return [
      { name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: m.secretName, key: m.urlKey } } },
      { name: MANAGED_PERSISTENCE_ENV, value: m.persistence },
    ];
  }
  if (args.redisHost === undefined || args.redisSecretName === undefined) {
    throw new Error('ChatApp needs either the Redis pod (redisHost, redisSecretName) or managedRedis');
  }
  return [
    { name: 'REDIS_URL', value: pulumi.interpolate`redis://${args.redisHost}:${args.redisPort}` },
    { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: args.redisSecretName, key: REDIS_PASSWORD_KEY } } },
  ];
}

export class ChatApp extends pulumi.ComponentResource {
  /** http://<load balancer address> */
  readonly url: pulumi.Output<string>;
  /** The load balancer's IPv4 address; null while it reports none. */
  readonly loadBalancerIp: pulumi.Output<string | null>;
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
      ...redisEnv(args),
      { name: 'HISTORY_LIMIT', value: String(args.historyLimit) },
      // The pod name, so the page shows which replica serves it.
      { name: 'REPLICA_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      // chat-app-lb is an HTTP balancer (type REGIONAL, see loadBalancerAnnotations): one proxy
      // hop that sets X-Forwarded-For. Trust that one hop, so the per-client rate limit counts
      // browsers, not the balancer. (Behind a TCP pass-through balancer this would let clients
      // choose their own address.)
      { name: 'TRUST_PROXY', value: '1' },
      // How long the service drains after SIGTERM; terminationGracePeriodSeconds counts on it.
      { name: 'DRAIN_SECONDS', value: String(DRAIN_SECONDS) },
    ];
    if (args.rateLimitPerMin !== undefined)
      env.push({ name: 'RATE_LIMIT_PER_MIN', value: String(args.rateLimitPerMin) });
    // Browsers reach the chat only over https:// (port 80 redirects): the service may send
    // Strict-Transport-Security and ask browsers to upgrade insecure requests.
    if (args.https !== undefined) env.push({ name: 'HTTPS_ONLY', value: 'true' });

    this.deployment = new k8s.apps.v1.Deployment(
      NAMES.chatDeployment,
      {
        metadata: { name: NAMES.chatDeployment, labels: podLabels },
        spec: {
          replicas: args.replicas,
          selector: { matchLabels: selector },
          // A new pod first, and the old one goes only once the new one is ready, whatever
          // chat:appReplicas is: with one replica a rollout never leaves the chat without a
          // pod. (A node drain evicts instead, which cannot surge: with one replica that leaves
          // a gap until the replacement is ready; infra/README.md, "Rollouts".)
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            // REDIS_PASSWORD comes from the Secret only at container start: a new password must roll the pods.
            metadata: {
              labels: podLabels,
              annotations: {
                [REDIS_PASSWORD_ANNOTATION]: args.managedRedis?.urlDigest ?? args.redisPasswordRevision ?? '',
              },
            },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPod(CHAT_UID, CHAT_GID),
              imagePullSecrets,
              // The preStop wait, then the service's drain, then slack (PRE_STOP_SECONDS).
              terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
              // On the workers pool, never the small default node (cluster.ts WORKERS_LABEL).
              nodeSelector: args.nodeSelector,
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
                  // Keeps serving (and passing readiness) until the balancer has taken the
                  // node out of rotation; SIGTERM comes after (PRE_STOP_SECONDS).
                  lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
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
        metadata: {
          name: NAMES.chatService,
          labels: podLabels,
          annotations: loadBalancerAnnotations(args.instance, args.https),
        },
        spec: {
          type: 'LoadBalancer',
          selector,
          // With HTTPS, 443 goes to the same container port: the balancer has decrypted it.
          ports: [
            { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
            ...(args.https !== undefined ? [{ name: 'https', protocol: 'TCP', port: 443, targetPort: 'http' }] : []),
          ],
          // Traffic goes only to nodes that run a chat pod and is not forwarded (and
          // source-NATed) to another node, so the balancer's X-Forwarded-For is the only hop.
          externalTrafficPolicy: 'Local',
        },
      },
      { ...child, dependsOn: [this.deployment], ...LOAD_BALANCER_SERVICE_OPTIONS },
    );

    this.url = this.service.status.apply((s) => {
      const ingress = s?.loadBalancer?.ingress?.[0];
      return `http://${ingress?.ip ?? ingress?.hostname ?? 'pending'}`;
    });
    this.loadBalancerIp = this.service.status.apply(loadBalancerIPv4);
    this.registerOutputs({ url: this.url, loadBalancerIp: this.loadBalancerIp });
  }
}
