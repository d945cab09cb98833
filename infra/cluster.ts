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
  /** A version prefix such as `1.33`; undefined means the latest DOKS offers. */
  versionPrefix?: string;
  nodeSize: string;
  nodeCount: number;
  autoscale?: { minNodes: number; maxNodes: number };
  highAvailability: boolean;
  /** The DigitalOcean API token the kubeconfig authenticates with (secret). */
  doToken: pulumi.Input<string>;
  tags?: string[];
}

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
  const matching = validVersions.filter((v) => v === prefix || v.startsWith(`${prefix}.`) || v.startsWith(`${prefix}-`));
  if (matching.length === 0) {
    throw new pulumi.RunError(
      `chat:kubernetesVersion "${prefix}" matches no DOKS version; DigitalOcean offers ${validVersions.join(', ')}`,
    );
  }
  return [...matching].sort(compareVersions).reverse()[0];
}

export class ChatCluster extends pulumi.ComponentResource {
  /** The provider every Kubernetes object of the stack is created with. */
  readonly provider: k8s.Provider;
  /** A kubeconfig for kubectl (secret). */
  readonly kubeconfig: pulumi.Output<string>;
  readonly clusterName: pulumi.Output<string>;
  /** The DOKS cluster, when one is created. */
  readonly cluster?: digitalocean.KubernetesCluster;

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
      const version = digitalocean
        .getKubernetesVersionsOutput({}, { parent: this })
        .apply((v) => pickVersion(c.versionPrefix, v.validVersions, v.latestVersion));

      this.cluster = new digitalocean.KubernetesCluster(
        'cluster',
        {
          name: c.name,
          region: c.region,
          version,
          nodePool: {
            name: `${c.name}-pool`,
            size: c.nodeSize,
            nodeCount: c.nodeCount,
            autoScale: c.autoscale !== undefined,
            minNodes: c.autoscale?.minNodes,
            maxNodes: c.autoscale?.maxNodes,
            tags: c.tags,
          },
          // New nodes come up before old ones drain during upgrades.
          surgeUpgrade: true,
          // HA control plane costs extra; newer DOKS versions turn it on unless told otherwise.
          ha: c.highAvailability,
          // `pulumi destroy` must not leave the load balancer and the Redis volume billed:
          // they are created by Kubernetes, not by this program.
          destroyAllAssociatedResources: true,
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
        { parent: this },
      );
    }

    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }
}
