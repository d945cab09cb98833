/**
 * The Kubernetes cluster the chat runs on, and a provider that reaches it.
 *
 * Either a new DOKS cluster, or an existing cluster (DOKS, kind, minikube, ...) given by a
 * kubeconfig. Everything else only sees `provider` (and `workloadNodeSelector`), so the rest
 * of the program is the same for both.
 */
import * as digitalocean from '@pulumi/digitalocean';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DigitalOceanApi, listAll } from './digitalocean-api';

export interface NewClusterArgs {
  name: string;
  region: string;
  /**
   * The DOKS version slug to run, resolved before anything is declared (clusterVersion):
   * the running one, or what chat:kubernetesVersion asks for when DOKS accepts that step.
   */
  version: string;
  /** The workers' Droplet size: a separate node pool, so a change never replaces the cluster. */
  nodeSize: string;
  /** The workers' node count; undefined with autoscaling, where no count is ever sent (see the pool below). */
  nodeCount?: number;
  autoscale?: { minNodes: number; maxNodes: number };
  highAvailability: boolean;
  /** The DigitalOcean API token the kubeconfig authenticates with (secret). */
  doToken: pulumi.Input<string>;
  tags?: string[];
  /**
   * Pulumi `protect`: no `pulumi up` may replace the cluster and no `pulumi destroy` may delete
   * it until `pulumi state unprotect` (deleting it deletes every volume made through it).
   */
  protect?: boolean;
}

/**
 * The default node pool: one node of a fixed size that no config key changes.
 *
 * DOKS needs it: KubernetesCluster.nodePool is Required with MaxItems 1, and its `size` is
 * ForceNew, so a different size replaces the whole cluster and, with
 * destroyAllAssociatedResources, deletes the Redis volume (digitalocean/terraform-provider-
 * digitalocean digitalocean/kubernetes/resource_kubernetes_cluster.go `node_pool`,
 * kubernetes.go nodePoolSchema `size` ForceNew). A pool may not have fewer than one node
 * (docs/resources/kubernetes_cluster.md: min_nodes must be >= 1; 0 is a private preview).
 * So the workers live in a separate KubernetesNodePool (below), whose size change replaces
 * only that pool. s-1vcpu-2gb is the smallest size DOKS accepts for a node. No workload runs
 * here: both Deployments select WORKERS_LABEL, which only the workers pool carries.
 */
export const DEFAULT_POOL = { size: 's-1vcpu-2gb', nodeCount: 1 } as const;

/**
 * The default pool's fields this program no longer manages: they are sent when a cluster is
 * created and ignored afterwards.
 *
 * Clusters created before the workers moved to their own pool have a default pool named
 * `<cluster>-pool` of chat:nodeSize, chat:nodeCount nodes, perhaps autoscaled. Were these
 * fields compared, the provider would update that pool in place, renamed, shrunk to one node
 * and its autoscaling turned off, in the cluster's update, which runs before the new workers
 * pool exists: resource_kubernetes_cluster.go resourceDigitalOceanKubernetesClusterUpdate
 * calls digitaloceanKubernetesNodePoolUpdate for any `node_pool` change, and the workers pool
 * depends on the cluster. Every workload would squeeze onto one node meanwhile. Ignored, such
 * a pool stays as it is (infra/README.md, "Clusters created before the workers pool").
 * Tags stay managed: the program sends the same ones as ever.
 */
export const DEFAULT_POOL_IGNORED_FIELDS = ['name', 'size', 'nodeCount', 'autoScale', 'minNodes', 'maxNodes'].map(
  (f) => `nodePool.${f}`,
);

/**
 * The node label only the workers pool carries; both Deployments select it (nodeSelector),
 * so Redis, its volume and the chat replicas never land on the small default node. DOKS
 * applies a pool's `labels` to its nodes' metadata (docs/resources/kubernetes_node_pool.md
 * `labels`), and updates them in place (resource_kubernetes_node_pool.go update sends
 * `labels`). The pool's name is not used: it changes with chat:nodeSize.
 */
export const WORKERS_LABEL = { key: 'doks-chat/pool', value: 'workers' } as const;

/**
 * How long the credentials DOKS hands out with the cluster resource live. The program does
 * not use them (it reaches the cluster with tokenKubeconfig below and takes only the CA
 * certificate from `kubeConfigs`), so they need not last. Without kubeconfig_expire_seconds
 * each lives 7 days ("If not set or 0, the credentials will have a 7 day expiry",
 * docs/resources/kubernetes_cluster.md; pulumi/pulumi-digitalocean#78). The resource asks for
 * new ones on a read only when the stored ones have expired
 * (resource_kubernetes_cluster.go digitaloceanKubernetesClusterRead, GetCredentials with
 * ExpirySeconds). The running-version lookup mints none (runningCluster).
 */
export const KUBECONFIG_EXPIRE_SECONDS = 600;

export type ClusterArgs = { existingKubeconfig: pulumi.Input<string> } | { create: NewClusterArgs };

/**
 * A kubeconfig that authenticates with a DigitalOcean API token.
 *
 * DOKS accepts DigitalOcean API tokens as bearer tokens. The kubeconfig DOKS hands out
 * (`kubeConfigs[0].rawConfig`) carries a token that expires (7 days unless asked otherwise),
 * after which `pulumi up` can no longer reach the cluster; this one lasts as long as the
 * user's own token, which Pulumi already needs. This is the approach Pulumi recommends for
 * DOKS (pulumi/pulumi-digitalocean#312). Written with the `yaml` library, so a value is
 * always quoted as YAML needs (no line folding: the CA data is one long word).
 */
export function tokenKubeconfig(args: {
  clusterName: pulumi.Input<string>;
  endpoint: pulumi.Input<string>;
  caCertificate: pulumi.Input<string>;
  token: pulumi.Input<string>;
}): pulumi.Output<string> {
  return pulumi.secret(
    pulumi
      .all([args.clusterName, args.endpoint, args.caCertificate, args.token])
      .apply(([name, server, ca, token]) => kubeconfigYaml({ name, server, ca, token })),
  );
}

/** The kubeconfig document tokenKubeconfig writes. */
export function kubeconfigYaml(a: { name: string; server: string; ca: string; token: string }): string {
  const user = `${a.name}-token`;
  return stringifyYaml(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: a.name, cluster: { 'certificate-authority-data': a.ca, server: a.server } }],
      contexts: [{ name: a.name, context: { cluster: a.name, user } }],
      'current-context': a.name,
      users: [{ name: user, user: { token: a.token } }],
    },
    { lineWidth: 0 },
  );
}

/** The cluster name a kubeconfig's current context points at, for the stack output. */
export function currentContext(kubeconfig: string): string {
  try {
    const doc = parseYaml(kubeconfig) as { 'current-context'?: unknown } | null;
    const name = doc?.['current-context'];
    return typeof name === 'string' && name !== '' ? name : 'existing cluster';
  } catch {
    return 'existing cluster';
  }
}

/** Numeric parts of a DOKS version slug, e.g. 1.33.1-do.2 → [1, 33, 1, 2]. */
function versionParts(slug: string): number[] {
  return (slug.match(/\d+/g) ?? []).map(Number);
}

function compareVersions(a: string, b: string): number {
  const [pa, pb] = [versionParts(a), versionParts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

const newest = (versions: string[]): string | undefined => [...versions].sort(compareVersions).reverse()[0];

/** `1.33` of 1.33.5-do.1. */
const minorOf = (slug: string): string => versionParts(slug).slice(0, 2).join('.');

/**
 * The newest DOKS version with the given prefix (`1.33` matches 1.33.x, not 1.330), or
 * DigitalOcean's latest without one; a prefix that matches nothing is an error listing
 * the versions DOKS offers.
 */
export function pickVersion(prefix: string | undefined, validVersions: string[], latestVersion: string): string {
  if (!prefix) return latestVersion;
  const matching = validVersions.filter((v) => matchesPrefix(prefix, v));
  if (matching.length === 0) {
    throw new pulumi.RunError(
      `chat:kubernetesVersion "${prefix}" matches no DOKS version; DigitalOcean offers ${validVersions.join(', ')}`,
    );
  }
  return newest(matching)!;
}

const matchesPrefix = (prefix: string, v: string) =>
  v === prefix || v.startsWith(`${prefix}.`) || v.startsWith(`${prefix}-`);

/**
 * The version a cluster running `running` must reach before DOKS accepts `wanted`, or
 * undefined when it accepts `wanted` now.
 *
 * DOKS upgrades one minor version at a time (the Kubernetes version skew policy allows the
 * control plane one minor per upgrade), and to the next minor only from the newest patch of
 * the running one: from an older patch the API answers 422 "invalid upgrade path"
 * (digitalocean/terraform-provider-digitalocean#708). A patch upgrade within the minor is
 * always a valid step. When DOKS no longer offers the running minor at all, its newest patch
 * is unknown here and the API decides.
 */
export function requiredStep(running: string, wanted: string, offered: string[]): string | undefined {
  const [rMajor, rMinor] = versionParts(running);
  const [wMajor, wMinor] = versionParts(wanted);
  if (wMajor !== rMajor || wMinor <= rMinor) return undefined;
  const latestPatch = newest(offered.filter((v) => minorOf(v) === minorOf(running)));
  if (latestPatch !== undefined && compareVersions(latestPatch, running) > 0) return latestPatch;
  if (wMinor > rMinor + 1) {
    const nextMinor = `${rMajor}.${rMinor + 1}`;
    return newest(offered.filter((v) => minorOf(v) === nextMinor)) ?? nextMinor;
  }
  return undefined;
}

/**
 * The version to ask for, given what the cluster runs now (undefined before it exists).
 *
 * Resolve once: a running cluster keeps its version as long as it satisfies
 * chat:kubernetesVersion (any version when unset), so a routine `pulumi up` never upgrades
 * it because DOKS published a newer patch; changing chat:kubernetesVersion to a prefix the
 * running version does not match upgrades to the newest match. Reading the live version,
 * rather than `ignoreChanges: ['version']`, keeps chat:kubernetesVersion working and never
 * sends a version older than the running one (an upgrade in the DigitalOcean console, say).
 *
 * An older version is refused: DOKS only upgrades, and the provider turns a lower version
 * into a new cluster (customdiff.ForceNewIfChange("version", newVer < oldVer) in
 * digitalocean/terraform-provider-digitalocean resource_kubernetes_cluster.go), deleting the
 * old one with its volumes. An upgrade DOKS would refuse (requiredStep) is refused here too,
 * naming the step to take first, before anything is created.
 */
export function chooseVersion(
  prefix: string | undefined,
  validVersions: string[],
  latestVersion: string,
  running: string | undefined,
): string {
  if (running !== undefined && (!prefix || matchesPrefix(prefix, running))) return running;
  const wanted = pickVersion(prefix, validVersions, latestVersion);
  if (running === undefined) return wanted;
  if (compareVersions(wanted, running) < 0) {
    throw new pulumi.RunError(
      `chat:kubernetesVersion "${prefix}" means ${wanted}, older than the ${running} the cluster runs. DOKS cannot ` +
        'downgrade: the DigitalOcean provider would replace the cluster (a new cluster, the old one deleted with its ' +
        'load balancer and volumes). Set chat:kubernetesVersion to a prefix of the running version or newer, or unset it.',
    );
  }
  const step = requiredStep(running, wanted, validVersions);
  if (step !== undefined) {
    const first = matchesPrefix(minorOf(running), step) ? `the newest ${minorOf(running)} patch` : 'the next minor';
    throw new pulumi.RunError(
      `chat:kubernetesVersion "${prefix}" means ${wanted}, and the cluster runs ${running}: DOKS upgrades one minor ` +
        'version at a time, and to the next minor only from the newest patch of the running one (otherwise its API ' +
        `answers 422 "invalid upgrade path"). Upgrade in steps, ${step} (${first}) first:\n` +
        `  pulumi config set chat:kubernetesVersion ${step} && pulumi up\n` +
        `  pulumi config set chat:kubernetesVersion ${prefix} && pulumi up\n` +
        '`pulumi up` returns once DOKS has accepted an upgrade, while it still replaces the nodes; wait until ' +
        '`kubectl get nodes` lists only nodes of the new version before the next step (infra/README.md, "Upgrading Kubernetes").',
    );
  }
  return wanted;
}

/** What the DigitalOcean API says about a DOKS cluster (godo KubernetesCluster: id, name, version). */
export interface RunningCluster {
  id: string;
  version: string;
}

/**
 * The cluster of this name in the account, or undefined when there is none: a complete,
 * paged listing of /v2/kubernetes/clusters (listAll), not the getKubernetesCluster data
 * source. That data source lists once with empty options, one page, without paging
 * (datasource_kubernetes_cluster.go dataSourceDigitalOceanKubernetesClusterRead: a single
 * client.Kubernetes.List with &godo.ListOptions{}); in an account with more clusters than a
 * page holds it reports "Unable to find cluster" for a cluster that exists, and the program
 * would take its own cluster for a new one and send the latest version, an upgrade nobody
 * asked for. It also mints a 7-day credential on every read (digitaloceanKubernetesClusterRead
 * calls GetCredentials for a data source, which holds none). The listing mints nothing, and
 * refuses when unsure (listAll), so "not found" means not found. Two clusters of one name
 * would make the version ambiguous: refused too.
 */
export async function runningCluster(name: string, api: DigitalOceanApi): Promise<RunningCluster | undefined> {
  const clusters = await listAll<{ id?: string; name?: string; version?: string }>(
    api,
    '/v2/kubernetes/clusters',
    'kubernetes_clusters',
  );
  const matching = clusters.filter((c) => c.name === name);
  if (matching.length > 1) {
    throw new pulumi.RunError(
      `the DigitalOcean account has ${matching.length} Kubernetes clusters named ${name} (${matching.map((c) => c.id).join(', ')}); ` +
        "the program cannot tell which is this stack's. Rename or delete the others (`doctl kubernetes cluster list`).",
    );
  }
  const [found] = matching;
  if (found === undefined) return undefined;
  if (!found.id || !found.version) {
    throw new pulumi.RunError(`the DigitalOcean API lists cluster ${name} without an id or version`);
  }
  return { id: found.id, version: found.version };
}

/**
 * The version the cluster is declared with, worked out before anything is declared: what
 * runs now, or what chat:kubernetesVersion asks for (chooseVersion). Any failure to read
 * (network, token) stops the program: guessing "no cluster" could upgrade a running one.
 */
export async function clusterVersion(
  name: string,
  versionPrefix: string | undefined,
  api: DigitalOceanApi,
): Promise<string> {
  const [running, versions] = await Promise.all([
    runningCluster(name, api),
    // All versions, filtered here: a prefix that matches nothing can then list what exists.
    digitalocean.getKubernetesVersions({}),
  ]);
  return chooseVersion(versionPrefix, versions.validVersions, versions.latestVersion, running?.version);
}

export class ChatCluster extends pulumi.ComponentResource {
  /** The provider every Kubernetes object of the stack is created with. */
  readonly provider: k8s.Provider;
  /** A kubeconfig for kubectl (secret). */
  readonly kubeconfig: pulumi.Output<string>;
  readonly clusterName: pulumi.Output<string>;
  /** The DOKS cluster, when one is created. */
  readonly cluster?: digitalocean.KubernetesCluster;
  /** The worker node pool (chat:nodeSize), when a cluster is created. */
  readonly workers?: digitalocean.KubernetesNodePool;
  /**
   * What the workloads' pods select: WORKERS_LABEL on a created cluster; nothing on an
   * existing cluster, whose nodes this program does not label.
   */
  readonly workloadNodeSelector?: Record<string, string>;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('doks-chat:infra:Cluster', name, {}, opts);

    if ('existingKubeconfig' in args) {
      this.kubeconfig = pulumi.secret(args.existingKubeconfig);
      this.clusterName = pulumi.unsecret(pulumi.output(args.existingKubeconfig).apply(currentContext));
      this.provider = new k8s.Provider(
        'k8s',
        // Server-side apply: fields this program stops setting are removed from the live
        // object (e.g. spec.strategy.rollingUpdate when Redis switches to Recreate).
        { kubeconfig: this.kubeconfig, enableServerSideApply: true },
        { parent: this },
      );
    } else {
      const c = args.create;
      this.cluster = new digitalocean.KubernetesCluster(
        'cluster',
        {
          name: c.name,
          region: c.region,
          version: c.version,
          // Named, not left to the API: the version moves only when chat:kubernetesVersion says so.
          autoUpgrade: false,
          nodePool: {
            name: `${c.name}-default`,
            size: DEFAULT_POOL.size,
            nodeCount: DEFAULT_POOL.nodeCount,
            autoScale: false,
            tags: c.tags,
          },
          // New nodes come up before old ones drain during upgrades.
          surgeUpgrade: true,
          // HA control plane costs extra; newer DOKS versions turn it on unless told otherwise.
          ha: c.highAvailability,
          // `pulumi destroy` must not leave the load balancer and the Redis volume billed:
          // they are created by Kubernetes, not by this program. This deletes every volume
          // and volume snapshot made through the cluster, do-block-storage-retain ones too
          // (csi-digitalocean tags each volume with the cluster: driver/controller.go
          // CreateVolume/tagVolume; the provider calls godo DeleteDangerous:
          // resource_kubernetes_cluster.go resourceDigitalOceanKubernetesClusterDelete).
          destroyAllAssociatedResources: true,
          kubeconfigExpireSeconds: KUBECONFIG_EXPIRE_SECONDS,
          tags: c.tags,
        },
        { parent: this, protect: c.protect ?? false, ignoreChanges: DEFAULT_POOL_IGNORED_FIELDS },
      );

      // The workers. size is ForceNew here too, but it replaces only this pool: Pulumi creates
      // the new pool first (its name carries the size, and names are unique per cluster), then
      // deletes the old one, whose pods move over; the Redis volume detaches and follows.
      this.workers = new digitalocean.KubernetesNodePool(
        'workers',
        {
          clusterId: this.cluster.id,
          name: `workers-${c.nodeSize}`,
          size: c.nodeSize,
          // Never a count with autoscaling. The provider sends node_count on every pool update
          // whenever it is set (resource_kubernetes_node_pool.go
          // resourceDigitalOceanKubernetesNodePoolUpdate → digitaloceanKubernetesNodePoolUpdate,
          // req.Count), and its docs say to set it with auto_scale only "to explicitly reset the
          // number of nodes" (docs/resources/kubernetes_node_pool.md): after a `pulumi refresh`
          // has read the autoscaler's count, any pool change (tags, labels, limits) would shrink
          // the pool back. Without one, a new pool starts at min_nodes ("If auto-scaling is
          // enabled, and the node count is outside of the given min/max range, it will use the
          // min nodes value"; the create request omits a zero count, godo
          // KubernetesNodePoolCreateRequest `count,omitempty`).
          nodeCount: c.autoscale === undefined ? c.nodeCount : undefined,
          autoScale: c.autoscale !== undefined,
          minNodes: c.autoscale?.minNodes,
          maxNodes: c.autoscale?.maxNodes,
          labels: { [WORKERS_LABEL.key]: WORKERS_LABEL.value },
          tags: c.tags,
        },
        { parent: this },
      );
      this.workloadNodeSelector = { [WORKERS_LABEL.key]: WORKERS_LABEL.value };

      this.clusterName = this.cluster.name;
      this.kubeconfig = tokenKubeconfig({
        clusterName: this.cluster.name,
        endpoint: this.cluster.endpoint,
        caCertificate: this.cluster.kubeConfigs.apply((k) => k[0]?.clusterCaCertificate ?? ''),
        token: c.doToken,
      });
      this.provider = new k8s.Provider(
        'k8s',
        {
          kubeconfig: this.kubeconfig,
          enableServerSideApply: true,
          // Only a different cluster replaces the provider (and so every object on it);
          // a rotated token is an update.
          clusterIdentifier: this.cluster.id,
        },
        // Workloads are created after the workers exist (and carry WORKERS_LABEL) and deleted
        // before they go (pulumi destroy), so they never crowd onto the one default node.
        { parent: this, dependsOn: [this.workers] },
      );
    }

    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }
}
