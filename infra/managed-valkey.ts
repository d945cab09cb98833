/**
 * `chat:redis managed`: the chat history in DigitalOcean Managed Valkey instead of the
 * redis-deployment pod. One database cluster in the DOKS cluster's VPC, a firewall that
 * lets only that Kubernetes cluster in, the Valkey settings the chat relies on, and a
 * Secret with the `rediss://` URL the chat pods read.
 *
 * Every argument below was read in digitalocean/terraform-provider-digitalocean
 * (digitalocean/database/...), cited where it is set.
 */
import * as digitalocean from '@pulumi/digitalocean';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { labels } from './k8s-common';
import { managedPersistence, MANAGED_SNAPSHOT_SECONDS, VALKEY_VERSION, type ManagedPersistence } from './managed-redis';

/** The Secret the chat pods read REDIS_URL from (not `redis-auth`: both may exist during a refused switch). */
export const MANAGED_SECRET_NAME = 'managed-redis-url';
export const MANAGED_URL_KEY = 'url';

export interface ManagedValkeyArgs {
  provider: k8s.Provider;
  /** chat-<stack>: names the database `<instance>-valkey`. */
  instance: string;
  region: string;
  /** A Managed Valkey size slug (chat:redisSize). */
  size: string;
  /** One standby node (chat:redisStandby; sizes with 2 GB of RAM or more). */
  standby: boolean;
  /** chat:persistence: rdb snapshots (true) or none (false). */
  persistent: boolean;
  /** The DOKS cluster: its VPC holds the database, its id is the firewall's only rule. */
  cluster: digitalocean.KubernetesCluster;
  tags: string[];
  /** Pulumi `protect` on the database: deleting it deletes the history. */
  protect: boolean;
}

/**
 * The private `rediss://` URL, checked: the chat must reach the database over TLS inside
 * the VPC. `private_uri` is the API's private connection URI with the password put in
 * (resource_database_cluster.go setDatabaseConnectionInfo → buildDBPrivateURI).
 */
export function privateRedisUrl(privateUri: string): string {
  let url: URL;
  try {
    url = new URL(privateUri);
  } catch {
    throw new pulumi.RunError('the Managed Valkey cluster reported no usable private_uri');
  }
  if (url.protocol !== 'rediss:') {
    throw new pulumi.RunError(
      `the Managed Valkey cluster's private_uri uses ${url.protocol}//, not rediss://: the chat connects only over TLS`,
    );
  }
  return url.toString();
}

export class ManagedValkey extends pulumi.ComponentResource {
  readonly database: digitalocean.DatabaseCluster;
  readonly persistence: ManagedPersistence;
  /** The Secret holding the URL under MANAGED_URL_KEY. */
  readonly secretName: pulumi.Output<string>;
  readonly urlKey = MANAGED_URL_KEY;
  /** The URL's revision, random bytes drawn again when the URL changes (not secret, not derived from it): a new password rolls the chat pods. */
  readonly urlDigest: pulumi.Output<string>;
  /** One line for the `redisCommand` output. */
  readonly description: string;

  constructor(name: string, args: ManagedValkeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super('doks-chat:infra:ManagedValkey', name, {}, opts);
    this.persistence = managedPersistence(args.persistent);
    const nodeCount = args.standby ? 2 : 1;

    this.database = new digitalocean.DatabaseCluster(
      'valkey',
      {
        // name, engine, region: Required; name and engine ForceNew (resource_database_cluster.go schema).
        name: `${args.instance}-valkey`,
        engine: 'valkey',
        // "version": in practice required (transitionVersionToRequired); caching engines ignore a
        // remote version above this one, so a forced upgrade does not recreate the cluster.
        version: VALKEY_VERSION,
        // size, node_count: Required, updated in place by a resize (resourceDigitalOceanDatabaseClusterUpdate).
        size: args.size,
        nodeCount,
        region: args.region,
        // private_network_uuid: Optional, Computed, ForceNew: a different VPC replaces the
        // database. The DOKS cluster's vpc_uuid is Computed (its region's default VPC when not
        // set) and ForceNew on the cluster too, so this never moves while the cluster stands.
        privateNetworkUuid: args.cluster.vpcUuid,
        tags: args.tags,
      },
      // The history lives here. The connection attributes (uri, private_uri, password) are
      // Sensitive in the provider and so secret in the state.
      { parent: this, protect: args.protect },
    );

    // Only this Kubernetes cluster may connect: rule types are ip_addr, droplet, k8s, tag
    // and app; a k8s rule's value is the cluster's id (resource_database_firewall.go "rule").
    new digitalocean.DatabaseFirewall(
      'valkey-firewall',
      { clusterId: this.database.id, rules: [{ type: 'k8s', value: args.cluster.id }] },
      { parent: this },
    );

    // resource_database_valkey_config.go: valkey_maxmemory_policy "noeviction" (a full
    // database refuses writes; a chat history must never be evicted silently), persistence
    // "rdb" | "off", ssl (require TLS). Each is Optional+Computed: unset, the service keeps
    // its own default, so all three are named. Deleting this resource leaves the remote
    // settings as they are (its Delete only forgets it).
    new digitalocean.DatabaseValkeyConfig(
      'valkey-config',
      {
        clusterId: this.database.id,
        valkeyMaxmemoryPolicy: 'noeviction',
        persistence: this.persistence,
        ssl: true,
      },
      { parent: this },
    );

    const url = pulumi.secret(this.database.privateUri.apply(privateRedisUrl));
    // As Redis.passwordRevision (redis.ts): random bytes whose keeper is the URL, so a new
    // password rolls the chat pods while their template holds nothing secret or derived
    // from the password, and previews of chat-app-deployment keep showing their diff.
    const revision = new random.RandomId(
      'managed-redis-url-revision',
      { byteLength: 8, keepers: { url } },
      { parent: this },
    );
    this.urlDigest = pulumi.unsecret(revision.hex);
    const secret = new k8s.core.v1.Secret(
      MANAGED_SECRET_NAME,
      {
        metadata: { name: MANAGED_SECRET_NAME, labels: labels('chat-app', 'database-url', args.instance) },
        type: 'Opaque',
        stringData: { [MANAGED_URL_KEY]: url },
      },
      { parent: this, provider: args.provider },
    );
    this.secretName = secret.metadata.name;
    this.description =
      `DigitalOcean Managed Valkey ${VALKEY_VERSION} (${args.size}, ${nodeCount} node${nodeCount > 1 ? 's: primary + standby' : ''}), ` +
      `persistence ${this.persistence}` +
      (this.persistence === 'rdb' ? ` (a dump at most every ${MANAGED_SNAPSHOT_SECONDS / 60} minutes)` : '') +
      ', maxmemory-policy noeviction, TLS only';
    this.registerOutputs({ secretName: this.secretName });
  }
}
