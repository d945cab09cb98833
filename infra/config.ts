/**
 * The stack configuration, read once and validated before any resource is declared.
 *
 * Every `chat:*` key is parsed here; a wrong value stops the program with a message that
 * names the key, says what is allowed and shows what was given. All problems are reported
 * together, so one `pulumi up` shows everything to fix. Unknown `chat:*` keys (typos such
 * as `chat:replicas`) are errors too: silently ignoring them would deploy something other
 * than what the user asked for.
 */
import * as pulumi from '@pulumi/pulumi';
import { z } from 'zod';
import { APPENDFSYNC_VALUES, AppendFsync } from './persistence';
import { HISTORY_LIMIT_MAX } from '../app/src/config';

export const CONFIG_NAMESPACE = 'chat';

export const REGISTRY_TIERS = ['starter', 'basic', 'professional'] as const;
export type RegistryTier = (typeof REGISTRY_TIERS)[number];

/** Where the chat image comes from. */
export type RegistryConfig =
  /** Create a registry (Starter and Basic allow one per account; Professional up to 10 per team). */
  | { mode: 'create'; name?: string; tier: RegistryTier; region?: string }
  /** Push to a registry that already exists in the account, e.g. the other stack's. */
  | { mode: 'existing'; name: string };

export interface ChatConfig {
  /** Pulumi stack name; names the cluster. */
  stack: string;
  /** Redis keeps an append-only file on a volume (true) or memory only (false). */
  persistence: boolean;
  region: string;
  /** A version prefix such as `1.33`; undefined means the latest DOKS offers. */
  kubernetesVersion?: string;
  nodeSize: string;
  /** The workers' node count; undefined with autoscaling (the pool starts at minNodes, then the autoscaler sizes it). */
  nodeCount?: number;
  autoscale?: { minNodes: number; maxNodes: number };
  highAvailability: boolean;
  appReplicas: number;
  redisStorageSize: string;
  storageClass: string;
  appendfsync: AppendFsync;
  historyLimit: number;
  rateLimitPerMin?: number;
  registry: RegistryConfig;
  /** Deploy onto this existing cluster instead of creating one (secret). */
  kubeconfig?: pulumi.Output<string>;
  /** A prebuilt image reference; no registry and no build when set. */
  image?: string;
  /** The Redis password (secret); generated when not given. */
  redisPassword?: pulumi.Output<string>;
  /** The DigitalOcean API token; present when a cluster is created (it authenticates the kubeconfig). */
  doToken?: pulumi.Output<string>;
  /**
   * Serve the chat at https://<name>: a Let's Encrypt certificate and an A record in the
   * DigitalOcean DNS zone `zone` (the name itself or a parent of it). Undefined: plain HTTP
   * on the load balancer's IP.
   */
  domain?: { name: string; zone: string };
}

/** One row per key: infra/README.md's configuration table is written from the same facts (a docs test holds them equal). */
export const CONFIG_KEYS = [
  'persistence',
  'region',
  'kubernetesVersion',
  'nodeSize',
  'nodeCount',
  'minNodes',
  'maxNodes',
  'highAvailability',
  'appReplicas',
  'redisStorageSize',
  'storageClass',
  'appendfsync',
  'historyLimit',
  'rateLimitPerMin',
  'registry',
  'kubeconfig',
  'image',
  'redisPassword',
  'domain',
  'dnsZone',
] as const;
type ConfigKey = (typeof CONFIG_KEYS)[number];

export const DEFAULTS = {
  region: 'nyc1',
  nodeSize: 's-2vcpu-2gb',
  nodeCount: 2,
  highAvailability: false,
  appReplicas: 2,
  redisStorageSize: '1Gi',
  storageClass: 'do-block-storage',
  appendfsync: 'everysec' as AppendFsync,
  historyLimit: 100,
  registryTier: 'starter' as RegistryTier,
} as const;

/** Raised for invalid stack configuration; a RunError so Pulumi prints the message without a stack trace. */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(
      `Invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        'Fix with `pulumi config set <key> <value>` (or edit Pulumi.<stack>.yaml) and run again.',
    );
    this.name = 'ConfigError';
  }
}

/** A source of raw config strings: the Pulumi config by default, a plain map in tests. */
export interface RawConfig {
  get(key: string): string | undefined;
  /** Every `chat:*` key that is set, without the namespace. */
  keys(): string[];
}

export function pulumiRawConfig(): RawConfig {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  return {
    get: (key) => config.get(key),
    keys: () =>
      Object.keys(pulumi.runtime.allConfig())
        .filter((k) => k.startsWith(`${CONFIG_NAMESPACE}:`))
        .map((k) => k.slice(CONFIG_NAMESPACE.length + 1)),
  };
}

const show = (v: string) => JSON.stringify(v);
const full = (key: ConfigKey) => `${CONFIG_NAMESPACE}:${key}`;

class Problems {
  readonly list: string[] = [];
  /** `key` is a chat: key, or a full `namespace:key` for other namespaces. */
  add(key: ConfigKey | `${string}:${string}`, allowed: string, got?: string) {
    const name = key.includes(':') ? key : full(key as ConfigKey);
    this.list.push(`${name} must be ${allowed}${got === undefined ? '' : `; got ${show(got)}`}`);
  }
}

function parseBool(raw: RawConfig, p: Problems, key: ConfigKey): boolean | undefined {
  const v = raw.get(key);
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  p.add(key, '"true" or "false"', v);
  return undefined;
}

function parseInt_(raw: RawConfig, p: Problems, key: ConfigKey, min: number, max: number): number | undefined {
  const v = raw.get(key);
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    p.add(key, `a whole number from ${min} to ${max}`, v);
    return undefined;
  }
  return n;
}

function parsePattern(
  raw: RawConfig,
  p: Problems,
  key: ConfigKey,
  pattern: RegExp,
  allowed: string,
): string | undefined {
  const v = raw.get(key);
  if (v === undefined) return undefined;
  if (!pattern.test(v)) {
    p.add(key, allowed, v);
    return undefined;
  }
  return v;
}

// DigitalOcean slugs: regions are three letters and a digit (nyc1, fra1, sgp1, ...).
const REGION = /^[a-z]{3}\d$/;
// Droplet size slugs: s-2vcpu-4gb, c-4, g-2vcpu-8gb-intel, ...
const SIZE = /^[a-z0-9]+(-[a-z0-9]+)+$/;
// A prefix of a DOKS version slug: 1, 1.33, 1.33.1, 1.33.1-do.0
const VERSION_PREFIX = /^\d+(\.\d+){0,2}(-do(\.\d+)?)?$/;
// A Kubernetes object name (DNS-1123 subdomain), for the storage class.
const DNS1123 = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// A container image reference: [host[:port]/]path[:tag][@sha256:digest]
const IMAGE_REF =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
// DOCR registry names: lowercase letters, digits and dashes, starting with a letter or digit.
const REGISTRY_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// A fully qualified domain name as DNS and Let's Encrypt take it: lowercase labels of letters,
// digits and inner dashes (1..63 characters), at least two labels, at most 253 characters, no
// trailing dot, a top-level label that is not all digits (so no IP addresses).
const FQDN =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.)+(?=[-a-z0-9]*[a-z])[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
// Kubernetes quantities for the volume, in binary units.
const QUANTITY = /^(\d+)(Mi|Gi|Ti)$/;
const MIB_PER_UNIT: Record<string, number> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 };

const registrySchema = z
  .object({
    name: z.string().regex(REGISTRY_NAME).optional(),
    tier: z.enum(REGISTRY_TIERS).optional(),
    region: z.string().regex(REGION).optional(),
    existing: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
  })
  .strict();

const REGISTRY_ALLOWED =
  'an object { name?, tier?, region?, existing? }: name = lowercase letters, digits and dashes (max 63); ' +
  `tier = ${REGISTRY_TIERS.join(' | ')}; region = a DigitalOcean region slug; existing = true to push to the ` +
  "account's existing registry `name` instead of creating one (then name is required and tier/region are not allowed)";

function parseRegistry(raw: RawConfig, p: Problems): RegistryConfig {
  const v = raw.get('registry');
  const fallback: RegistryConfig = { mode: 'create', tier: DEFAULTS.registryTier };
  if (v === undefined) return fallback;
  let obj: unknown;
  try {
    obj = JSON.parse(v);
  } catch {
    p.add(
      'registry',
      `${REGISTRY_ALLOWED} (set fields with \`pulumi config set --path chat:registry.name my-registry\`)`,
      v,
    );
    return fallback;
  }
  const parsed = registrySchema.safeParse(obj);
  if (!parsed.success) {
    const where = parsed.error.issues
      .map((i) => (i.path.length ? `chat:registry.${i.path.join('.')}` : 'chat:registry'))
      .join(', ');
    p.add('registry', `${REGISTRY_ALLOWED} (problem at ${where})`, v);
    return fallback;
  }
  const r = parsed.data;
  if (r.existing) {
    if (!r.name || r.tier !== undefined || r.region !== undefined) {
      p.add('registry', "with existing: true, only a name (the existing registry's) and nothing else", v);
      return fallback;
    }
    return { mode: 'existing', name: r.name };
  }
  return { mode: 'create', name: r.name, tier: r.tier ?? DEFAULTS.registryTier, region: r.region };
}

function parseStorageSize(raw: RawConfig, p: Problems): string | undefined {
  const v = raw.get('redisStorageSize');
  if (v === undefined) return undefined;
  const m = QUANTITY.exec(v);
  // do-block-storage volumes are at least 1 GiB and at most 16 TiB, and whole GiB:
  // csi-digitalocean creates SizeGigaBytes = requiredBytes / giB, an integer division that
  // rounds down (digitalocean/csi-digitalocean driver/controller.go CreateVolume,
  // extractStorage), so 1536Mi would silently become a 1 GiB volume. Only whole GiB pass.
  const mib = m ? Number(m[1]) * MIB_PER_UNIT[m[2]] : NaN;
  if (!m || !(mib >= 1024 && mib <= 16 * 1024 * 1024)) {
    p.add('redisStorageSize', 'a size from 1Gi to 16Ti written like 1Gi, 5Gi or 2048Mi', v);
    return undefined;
  }
  if (mib % 1024 !== 0) {
    p.add(
      'redisStorageSize',
      `a whole number of GiB (DigitalOcean volumes come in whole GiB and csi-digitalocean rounds a request down: ` +
        `${v} would be a ${Math.floor(mib / 1024)} GiB volume); write ${Math.ceil(mib / 1024)}Gi for at least ${v}`,
      v,
    );
    return undefined;
  }
  return v;
}

export interface LoadOptions {
  raw?: RawConfig;
  stack?: string;
  /** The DigitalOcean token, as the DigitalOcean provider finds it. */
  doToken?: () => string | undefined;
}

/**
 * The token as the DigitalOcean provider finds it: its `token` argument, i.e. the
 * `digitalocean:token` config of the default provider, else DIGITALOCEAN_TOKEN, else
 * DIGITALOCEAN_ACCESS_TOKEN (terraform-provider-digitalocean digitalocean/provider.go:
 * "token" DefaultFunc MultiEnvDefaultFunc; pulumi-digitalocean provider/resources.go adds no
 * other source).
 */
export function digitalOceanToken(): string | undefined {
  return (
    new pulumi.Config('digitalocean').get('token') ??
    process.env.DIGITALOCEAN_TOKEN ??
    process.env.DIGITALOCEAN_ACCESS_TOKEN ??
    undefined
  );
}

export function loadConfig(options: LoadOptions = {}): ChatConfig {
  const raw = options.raw ?? pulumiRawConfig();
  const p = new Problems();

  for (const key of raw.keys()) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      p.list.push(
        `${CONFIG_NAMESPACE}:${key} is not a known key; allowed keys are ${CONFIG_KEYS.map((k) => full(k)).join(', ')}`,
      );
    }
  }

  const persistence = parseBool(raw, p, 'persistence');
  if (raw.get('persistence') === undefined) {
    p.add(
      'persistence',
      'set: "false" for memory-only Redis (Pulumi.stateless.yaml) or "true" for an append-only file on a volume (Pulumi.stateful.yaml)',
    );
  }
  const region = parsePattern(
    raw,
    p,
    'region',
    REGION,
    'a DigitalOcean region slug such as nyc1, sfo3, ams3, fra1 or sgp1',
  );
  const kubernetesVersion = parsePattern(
    raw,
    p,
    'kubernetesVersion',
    VERSION_PREFIX,
    'a DOKS version prefix such as 1.33 or 1.33.1-do.0',
  );
  const nodeSize = parsePattern(raw, p, 'nodeSize', SIZE, 'a Droplet size slug such as s-2vcpu-2gb or s-2vcpu-4gb');
  const nodeCount = parseInt_(raw, p, 'nodeCount', 1, 100);
  const minNodes = parseInt_(raw, p, 'minNodes', 1, 100);
  const maxNodes = parseInt_(raw, p, 'maxNodes', 1, 100);
  const highAvailability = parseBool(raw, p, 'highAvailability');
  const appReplicas = parseInt_(raw, p, 'appReplicas', 1, 50);
  const redisStorageSize = parseStorageSize(raw, p);
  const storageClass = parsePattern(
    raw,
    p,
    'storageClass',
    DNS1123,
    'a StorageClass name such as do-block-storage, do-block-storage-retain or standard',
  );
  const appendfsyncRaw = raw.get('appendfsync');
  let appendfsync: AppendFsync | undefined;
  if (appendfsyncRaw !== undefined) {
    if ((APPENDFSYNC_VALUES as readonly string[]).includes(appendfsyncRaw)) appendfsync = appendfsyncRaw as AppendFsync;
    else p.add('appendfsync', `one of ${APPENDFSYNC_VALUES.join(', ')}`, appendfsyncRaw);
  }
  const historyLimit = parseInt_(raw, p, 'historyLimit', 1, HISTORY_LIMIT_MAX);
  const rateLimitPerMin = parseInt_(raw, p, 'rateLimitPerMin', 0, 1000000);
  const registry = parseRegistry(raw, p);
  const image = parsePattern(
    raw,
    p,
    'image',
    IMAGE_REF,
    'a container image reference such as registry.example.com/chat:1.0, chat:dev or repo@sha256:<digest>',
  );

  const kubeconfigRaw = raw.get('kubeconfig');
  if (kubeconfigRaw !== undefined && !/\bclusters\s*:/.test(kubeconfigRaw)) {
    // A secret: never echoed back.
    p.add(
      'kubeconfig',
      'the contents of a kubeconfig file (with a clusters: section), not a path: `pulumi config set --secret chat:kubeconfig < ~/.kube/config`',
    );
  }
  const redisPasswordRaw = raw.get('redisPassword');
  if (redisPasswordRaw !== undefined && !/^[\x21-\x7e]{16,128}$/.test(redisPasswordRaw)) {
    // Never echo a password back.
    p.add('redisPassword', '16 to 128 printable characters without spaces (set it with --secret)');
  }

  const domainName = parsePattern(
    raw,
    p,
    'domain',
    FQDN,
    'a lowercase fully qualified domain name such as chat.example.com (no scheme, no trailing dot)',
  );
  const dnsZoneRaw = parsePattern(
    raw,
    p,
    'dnsZone',
    FQDN,
    'a DigitalOcean DNS zone (a domain added to the account) such as example.com',
  );
  let domain: ChatConfig['domain'];
  if (raw.get('dnsZone') !== undefined && raw.get('domain') === undefined) {
    p.add('dnsZone', 'set only together with chat:domain (it names the zone that holds chat:domain)');
  } else if (domainName !== undefined) {
    const parent = domainName.slice(domainName.indexOf('.') + 1);
    if (dnsZoneRaw !== undefined) {
      if (dnsZoneRaw === domainName || domainName.endsWith(`.${dnsZoneRaw}`))
        domain = { name: domainName, zone: dnsZoneRaw };
      else p.add('dnsZone', `chat:domain (${domainName}) itself or a parent of it, such as ${parent}`, dnsZoneRaw);
    } else if (!parent.includes('.')) {
      // The default zone, the name without its first label, would be a top-level domain.
      p.add(
        'dnsZone',
        `set when chat:domain has only two labels: the default (chat:domain without its first label) would be "${parent}"; set it to ${domainName} to serve the chat at the zone's apex`,
      );
    } else {
      domain = { name: domainName, zone: parent };
    }
  }

  const minSet = raw.get('minNodes') !== undefined;
  const maxSet = raw.get('maxNodes') !== undefined;
  if (minSet !== maxSet) {
    const [missing, given] = minSet ? ['maxNodes', 'minNodes'] : ['minNodes', 'maxNodes'];
    p.add(missing as ConfigKey, `set as well when chat:${given} is set (the two together turn on autoscaling)`);
  }
  if (minNodes !== undefined && maxNodes !== undefined && minNodes > maxNodes) {
    p.add('minNodes', `at most chat:maxNodes (${maxNodes})`, String(minNodes));
  }
  const autoscale =
    minNodes !== undefined && maxNodes !== undefined && minNodes <= maxNodes ? { minNodes, maxNodes } : undefined;
  if (autoscale && nodeCount !== undefined) {
    // The provider sends a set count on every update of the pool, resetting the autoscaler's
    // size (infra/cluster.ts, the workers pool).
    p.add(
      'nodeCount',
      'unset when chat:minNodes and chat:maxNodes turn on autoscaling (`pulumi config rm chat:nodeCount`): the pool ' +
        'starts at chat:minNodes and the autoscaler sizes it; a count would reset that size at every later change of the pool',
      String(nodeCount),
    );
  }

  // A created cluster is reached with a kubeconfig built on the DigitalOcean token (see cluster.ts),
  // and the certificate and DNS record of chat:domain are DigitalOcean resources: either needs
  // the token before anything is created.
  let doToken: pulumi.Output<string> | undefined;
  if (kubeconfigRaw === undefined || raw.get('domain') !== undefined) {
    const token = (options.doToken ?? digitalOceanToken)();
    if (token && kubeconfigRaw === undefined) {
      doToken = pulumi.secret(token);
    } else if (!token && kubeconfigRaw === undefined) {
      p.add(
        'digitalocean:token',
        'set to create a cluster: `pulumi config set --secret digitalocean:token <token>` or export DIGITALOCEAN_TOKEN ' +
          '(or set chat:kubeconfig to deploy onto an existing cluster)',
      );
    } else if (!token) {
      p.add(
        'domain',
        "used with a DigitalOcean API token, also with chat:kubeconfig: its Let's Encrypt certificate and DNS record are " +
          'created through the DigitalOcean API (`pulumi config set --secret digitalocean:token <token>` or export ' +
          "DIGITALOCEAN_TOKEN); or unset chat:domain to serve plain HTTP on the load balancer's IP",
      );
    }
  }

  if (p.list.length > 0) throw new ConfigError(p.list);

  return {
    stack: options.stack ?? pulumi.getStack(),
    persistence: persistence as boolean,
    region: region ?? DEFAULTS.region,
    kubernetesVersion,
    nodeSize: nodeSize ?? DEFAULTS.nodeSize,
    nodeCount: autoscale ? undefined : (nodeCount ?? DEFAULTS.nodeCount),
    autoscale,
    highAvailability: highAvailability ?? DEFAULTS.highAvailability,
    appReplicas: appReplicas ?? DEFAULTS.appReplicas,
    redisStorageSize: redisStorageSize ?? DEFAULTS.redisStorageSize,
    storageClass: storageClass ?? DEFAULTS.storageClass,
    appendfsync: appendfsync ?? DEFAULTS.appendfsync,
    historyLimit: historyLimit ?? DEFAULTS.historyLimit,
    rateLimitPerMin,
    registry,
    kubeconfig: kubeconfigRaw === undefined ? undefined : pulumi.secret(kubeconfigRaw),
    image,
    redisPassword: redisPasswordRaw === undefined ? undefined : pulumi.secret(redisPasswordRaw),
    doToken,
    domain,
  };
}
