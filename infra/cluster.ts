/**
 * The Kubernetes cluster the chat runs on, and a provider that reaches it.
 *
 * Either a new DOKS cluster, or an existing cluster (DOKS, kind, minikube, ...) given by a
 * kubeconfig. Everything else only sees `provider`, so the rest of the program is the same
 * for both.
 */
import * as digitalocean from '@pulumi/digitalocean';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

export interface NewClusterArgs {
  name: string;
  region: string;
  /** A version prefix such as `1.33`; undefined means the latest DOKS offers (when created). */
  versionPrefix?: string;
  /** The workers' Droplet size: a separate node pool, so a change never replaces the cluster. */
  nodeSize: string;
  /** With autoscaling, undefined unless chat:nodeCount is set: DOKS keeps the count between the bounds. */
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
 * only that pool; this one stays as created (`ignoreChanges: ['nodePool.size']` also keeps
 * clusters created before this split, whose default pool has the old chat:nodeSize).
 * s-1vcpu-2gb is the smallest size DOKS accepts for a node.
 */
export const DEFAULT_POOL = { size: 's-1vcpu-2gb', nodeCount: 1 } as const;

export type ClusterArgs = { existingKubeconfig: pulumi.Input<string> } | { create: NewClusterArgs };

/**
 * A kubeconfig that authenticates with a DigitalOcean API token.
 *
 * DOKS accepts DigitalOcean API tokens as bearer tokens. The kubeconfig DOKS hands out
 * (`kubeConfigs[0].rawConfig`) carries a token that expires after 7 days, after which
 * `pulumi up` can no longer reach the cluster; this one lasts as long as the user's own
 * token, which Pulumi already needs. This is the approach Pulumi recommends for DOKS
 * (pulumi/pulumi-digitalocean#312).
 */
export function tokenKubeconfig(args: {
  clusterName: pulumi.Input<string>;
  endpoint: pulumi.Input<string>;
  caCertificate: pulumi.Input<string>;
  token: pulumi.Input<string>;
}): pulumi.Output<string> {
  return pulumi.secret(
    pulumi.interpolate`apiVersion: v1
kind: Config
clusters:
- name: ${args.clusterName}
  cluster:
    certificate-authority-data: ${args.caCertificate}
    server: ${args.endpoint}
contexts:
- name: ${args.clusterName}
  context:
    cluster: ${args.clusterName}
    user: ${args.clusterName}-token
current-context: ${args.clusterName}
users:
- name: ${args.clusterName}-token
  user:
    token: ${args.token}
`,
  );
}

/** The cluster name a kubeconfig's current context points at, for the stack output. */
export function currentContext(kubeconfig: string): string {
  const m = /^current-context:\s*["']?([^"'\s]+)["']?\s*$/m.exec(kubeconfig);
  return m ? m[1] : 'existing cluster';
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
  return [...matching].sort(compareVersions).reverse()[0];
}

const matchesPrefix = (prefix: string, v: string) =>
  v === prefix || v.startsWith(`${prefix}.`) || v.startsWith(`${prefix}-`);

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
 * old one with its volumes.
 */
export function chooseVersion(
  prefix: string | undefined,
  validVersions: string[],
  latestVersion: string,
  running: string | undefined,
): string {
  if (running !== undefined && (!prefix || matchesPrefix(prefix, running))) return running;
  const wanted = pickVersion(prefix, validVersions, latestVersion);
  if (running !== undefined && compareVersions(wanted, running) < 0) {
    throw new pulumi.RunError(
      `chat:kubernetesVersion "${prefix}" means ${wanted}, older than the ${running} the cluster runs. DOKS cannot ` +
        'downgrade: the DigitalOcean provider would replace the cluster (a new cluster, the old one deleted with its ' +
        'load balancer and volumes). Set chat:kubernetesVersion to a prefix of the running version or newer, or unset it.',
    );
  }
  return wanted;
}

/** "Not found" from the getKubernetesCluster data source (datasource_kubernetes_cluster.go). */
const CLUSTER_NOT_FOUND = /Unable to find cluster with name|No clusters found/;

/**
 * The version the named cluster runs, or undefined when there is none yet. Any other error
 * (network, token) stops the program: guessing "no cluster" could upgrade a running one.
 * An invoke's error reaches the program and is not itself a failed deployment
 * (pulumi/pulumi pkg/resource/deploy/source_eval.go ResourceMonitor.Invoke).
 */
export async function runningVersion(name: string, opts: pulumi.InvokeOptions): Promise<string | undefined> {
  try {
    return (await digitalocean.getKubernetesCluster({ name }, opts)).version;
  } catch (err) {
    if (CLUSTER_NOT_FOUND.test(String((err as Error)?.message ?? err))) return undefined;
    throw err;
  }
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
      // All versions, filtered here: a prefix that matches nothing can then list what exists.
      const running = pulumi.output(runningVersion(c.name, { parent: this }));
      const version = pulumi
        .all([digitalocean.getKubernetesVersionsOutput({}, { parent: this }), running])
        .apply(([v, now]) => chooseVersion(c.versionPrefix, v.validVersions, v.latestVersion, now));

      this.cluster = new digitalocean.KubernetesCluster(
        'cluster',
        {
          name: c.name,
          region: c.region,
          version,
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
          tags: c.tags,
        },
        { parent: this, protect: c.protect ?? false, ignoreChanges: ['nodePool.size'] },
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
          nodeCount: c.nodeCount,
          autoScale: c.autoscale !== undefined,
          minNodes: c.autoscale?.minNodes,
          maxNodes: c.autoscale?.maxNodes,
          tags: c.tags,
        },
        { parent: this },
      );

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
        // Workloads are created after the workers exist and deleted before they go
        // (pulumi destroy), so they never crowd onto the one default node.
        { parent: this, dependsOn: [this.workers] },
      );
    }

    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }
}
