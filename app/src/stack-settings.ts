import { z } from 'zod';

/**
 * Every `chat:` setting of a Pulumi stack file (`Pulumi.<stack>.yaml`), each declared once:
 * how Pulumi hands it over, what it allows, its default and what it changes.
 *
 * What follows from this table:
 * - the Pulumi program's configuration (infra/config.ts) and the local stack's reading of
 *   the same stack file (app/local/stack-config.ts), through one reader (infra/settings.ts),
 *   so `npm start` refuses exactly what `pulumi up` refuses;
 * - infra/README.md's configuration table (app/test/docs.test.ts holds each row to its
 *   declaration);
 * - the service's bounds where a setting becomes one of its environment variables
 *   (`env` below; app/src/config.ts reads HISTORY_LIMIT and RATE_LIMIT_PER_MIN with them).
 *
 * It sits in app/src because the image compiles app/src alone (app/Dockerfile) and the
 * service takes its bounds from here. It imports zod only, a dependency of the service: neither
 * the image nor the local stack loads Pulumi for it. Adding a key is adding an entry to
 * SETTINGS (plus its row in infra/README.md and its cases in infra/test/settings.test.ts,
 * which the tests ask for); a rule that ties keys together goes in infra/settings.ts.
 */

/**
 * How Pulumi hands a value to the program: always as a string (`"true"`, `"2"`); an object
 * (set with `pulumi config set --path`) as its JSON.
 */
export type SettingType = 'boolean' | 'integer' | 'string' | 'object';

/** What a value is: its type, the words for what it may be, and the schema that checks a given value. */
export interface Kind<T> {
  readonly type: SettingType;
  /** What the value may be, as a problem says it after "chat:<key> must be" and infra/README.md shows it. */
  readonly allowed: string;
  /**
   * Parses the value as Pulumi hands it over (as the YAML document it holds when `format` is
   * `yaml`). Every issue's message says what is allowed; the reader adds the key and the value.
   */
  readonly schema: z.ZodType<T>;
  /** The value is a YAML document, parsed before `schema` sees it; the setting's value is the text. */
  readonly format?: 'yaml';
  /** Integers: the bounds, for the service's environment variable. */
  readonly bounds?: { readonly min: number; readonly max: number };
}

export interface Meta<T> {
  /** One line: what the setting changes. Its row in infra/README.md starts with it. */
  readonly description: string;
  /** The value when unset; none when unset means something else (`defaultText` says what). */
  readonly default?: T;
  /** The default in words for infra/README.md, when it is not just `default`. */
  readonly defaultText?: string;
  /** Set when the key must be given: what a problem says after "chat:<key> must be". */
  readonly required?: string;
  /** Never echoed in a problem; the program keeps it a Pulumi secret. */
  readonly secret?: true;
  /** The service's environment variable that receives the value; the service reads it with these bounds. */
  readonly env?: string;
}

export type Setting<T = unknown> = Kind<T> & Meta<T>;

// ---- the kinds of values -------------------------------------------------------------

const BOOLEAN = '"true" or "false"';

function flag(): Kind<boolean> {
  return {
    type: 'boolean',
    allowed: BOOLEAN,
    schema: z.enum(['true', 'false'], { error: BOOLEAN }).transform((v) => v === 'true'),
  };
}

function wholeNumber(min: number, max: number): Kind<number> & { bounds: { min: number; max: number } } {
  const allowed = `a whole number from ${min} to ${max}`;
  return {
    type: 'integer',
    allowed,
    bounds: { min, max },
    schema: z
      .string()
      .trim()
      .regex(/^\d+$/, allowed)
      .transform(Number)
      .pipe(z.number().min(min, allowed).max(max, allowed)),
  };
}

function matching(pattern: RegExp, allowed: string): Kind<string> {
  return { type: 'string', allowed, schema: z.string().regex(pattern, allowed) };
}

function oneOf<const T extends string>(values: readonly [T, ...T[]]): Kind<T> {
  const allowed = `one of ${values.join(', ')}`;
  return { type: 'string', allowed, schema: z.enum(values, { error: allowed }) };
}

type KindValue<K> = K extends Kind<infer T> ? T : never;

/** A declaration: a kind of value and what this setting says about it (the default is checked against the kind). */
function setting<K extends Kind<unknown>, const M extends Meta<KindValue<K>>>(kind: K, meta: M): K & M {
  return { ...kind, ...meta };
}

// ---- values the settings name ---------------------------------------------------------

/** Redis's `appendfsync` policies the stateful stack offers (infra/persistence.ts turns them into arguments). */
export const APPENDFSYNC_VALUES = ['everysec', 'always'] as const;
export type AppendFsync = (typeof APPENDFSYNC_VALUES)[number];

/** Where the chat history lives (issue 20): the Redis pod, or DigitalOcean Managed Valkey. */
export const REDIS_MODES = ['pod', 'managed'] as const;
/**
 * Managed Valkey sizes the program knows (infra/prices.ts prices each), smallest first, with
 * their RAM in GB: standby nodes need 2 GB or more (DigitalOcean docs, "How to Add Standby
 * Nodes to Valkey Database Clusters").
 */
export const MANAGED_REDIS_SIZES = {
  'db-s-1vcpu-1gb': 1,
  'db-s-1vcpu-2gb': 2,
  'db-s-2vcpu-4gb': 4,
  'db-s-4vcpu-8gb': 8,
} as const;
export type ManagedRedisSize = keyof typeof MANAGED_REDIS_SIZES;
const MANAGED_SIZE_NAMES = Object.keys(MANAGED_REDIS_SIZES) as [ManagedRedisSize, ...ManagedRedisSize[]];

export const REGISTRY_TIERS = ['starter', 'basic', 'professional'] as const;
export type RegistryTier = (typeof REGISTRY_TIERS)[number];

/** Where the chat image comes from. */
export type RegistryConfig =
  /** Create a registry (Starter and Basic allow one per account; Professional up to 10 per team). */
  | { mode: 'create'; name?: string; tier: RegistryTier; region?: string }
  /** Push to a registry that already exists in the account, e.g. the other stack's. */
  | { mode: 'existing'; name: string };

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
// A DigitalOcean volume snapshot id: a UUID (csi-digitalocean examples/kubernetes/import-snapshot:
// 92b46522-4798-4544-9d33-8b74ea56adb7); Droplet snapshots have numeric ids and cannot become a volume.
export const VOLUME_SNAPSHOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Printable ASCII without spaces, as a Secret and redis-server's --requirepass take it.
const PASSWORD = /^[\x21-\x7e]{16,128}$/;

// ---- the kinds with more to say -------------------------------------------------------

const STORAGE_ALLOWED = 'a size from 1Gi to 16Ti in whole GiB, written like 1Gi, 5Gi or 2048Mi';
const MIB_PER_UNIT: Record<string, number> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 };

/**
 * A Kubernetes quantity for the volume. do-block-storage volumes are at least 1 GiB and at
 * most 16 TiB, and whole GiB: csi-digitalocean creates SizeGigaBytes = requiredBytes / giB, an
 * integer division that rounds down (digitalocean/csi-digitalocean driver/controller.go
 * CreateVolume, extractStorage), so 1536Mi would silently become a 1 GiB volume. Only whole GiB pass.
 */
const storageSize: Kind<string> = {
  type: 'string',
  allowed: STORAGE_ALLOWED,
  schema: z.string().check((ctx) => {
    const v = ctx.value;
    const m = /^(\d+)(Mi|Gi|Ti)$/.exec(v);
    const mib = m ? Number(m[1]) * MIB_PER_UNIT[m[2]] : NaN;
    if (!m || !(mib >= 1024 && mib <= 16 * 1024 * 1024)) {
      ctx.issues.push({ code: 'custom', message: STORAGE_ALLOWED, input: v });
    } else if (mib % 1024 !== 0) {
      ctx.issues.push({
        code: 'custom',
        input: v,
        message:
          `a whole number of GiB (DigitalOcean volumes come in whole GiB and csi-digitalocean rounds a request down: ` +
          `${v} would be a ${Math.floor(mib / 1024)} GiB volume); write ${Math.ceil(mib / 1024)}Gi for at least ${v}`,
      });
    }
  }),
};

const REGISTRY_ALLOWED =
  'an object { name?, tier?, region?, existing? }: name = lowercase letters, digits and dashes (max 63); ' +
  `tier = ${REGISTRY_TIERS.join(' | ')}; region = a DigitalOcean region slug; existing = true to push to the ` +
  "account's existing registry `name` instead of creating one (then name is required and tier/region are not allowed)";

const registryFields = z
  .object({
    name: z.string().regex(REGISTRY_NAME).optional(),
    tier: z.enum(REGISTRY_TIERS).optional(),
    region: z.string().regex(REGION).optional(),
    // `pulumi config set --path chat:registry.existing true` stores a boolean; a hand-edited file may hold "true".
    existing: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
  })
  .strict();

/** An object: Pulumi hands it over as JSON. */
const registry: Kind<RegistryConfig> = {
  type: 'object',
  allowed: REGISTRY_ALLOWED,
  schema: z.string().transform((text, ctx): RegistryConfig => {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      ctx.issues.push({
        code: 'custom',
        input: text,
        message: `${REGISTRY_ALLOWED} (set fields with \`pulumi config set --path chat:registry.name my-registry\`)`,
      });
      return z.NEVER;
    }
    const parsed = registryFields.safeParse(obj);
    if (!parsed.success) {
      const where = parsed.error.issues
        .map((i) => (i.path.length ? `chat:registry.${i.path.join('.')}` : 'chat:registry'))
        .join(', ');
      ctx.issues.push({ code: 'custom', input: text, message: `${REGISTRY_ALLOWED} (problem at ${where})` });
      return z.NEVER;
    }
    const r = parsed.data;
    if (!r.existing) return { mode: 'create', name: r.name, tier: r.tier ?? 'starter', region: r.region };
    if (!r.name || r.tier !== undefined || r.region !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: text,
        message: "with existing: true, only a name (the existing registry's) and nothing else",
      });
      return z.NEVER;
    }
    return { mode: 'existing', name: r.name };
  }),
};

const KUBECONFIG_ALLOWED =
  'the contents of a kubeconfig file (with a clusters: section), not a path: `pulumi config set --secret chat:kubeconfig < ~/.kube/config`';

/** Checked as the YAML document it is (the reader parses it); the setting's value stays the text. */
const kubeconfig: Kind<unknown> & { format: 'yaml' } = {
  type: 'string',
  format: 'yaml',
  allowed: KUBECONFIG_ALLOWED,
  schema: z.looseObject(
    { clusters: z.array(z.unknown(), { error: KUBECONFIG_ALLOWED }) },
    { error: KUBECONFIG_ALLOWED },
  ),
};

// ---- the settings ---------------------------------------------------------------------

export const SETTINGS = {
  persistence: setting(flag(), {
    description: 'Redis keeps an append-only file on a volume (`true`) or its data in memory only (`false`).',
    required:
      'set: "false" for memory-only Redis (Pulumi.stateless.yaml) or "true" for an append-only file on a volume (Pulumi.stateful.yaml)',
  }),
  region: setting(matching(REGION, 'a DigitalOcean region slug such as nyc1, sfo3, ams3, fra1 or sgp1'), {
    description: 'The DigitalOcean region of the cluster.',
    default: 'nyc1',
  }),
  kubernetesVersion: setting(matching(VERSION_PREFIX, 'a DOKS version prefix such as 1.33 or 1.33.1-do.0'), {
    description: 'The DOKS version of the cluster: the newest one starting with this prefix.',
    defaultText: 'the latest DOKS version when the cluster is created',
  }),
  nodeSize: setting(matching(SIZE, 'a Droplet size slug such as s-2vcpu-2gb or s-2vcpu-4gb'), {
    description: 'The Droplet size of the worker pool `workers-<size>`.',
    default: 's-2vcpu-2gb',
  }),
  nodeCount: setting(wholeNumber(1, 100), {
    description: 'Nodes of the worker pool.',
    default: 2,
    defaultText: '`2`; none with autoscaling (refused there)',
  }),
  minNodes: setting(wholeNumber(1, 100), {
    description: 'The fewest nodes DOKS autoscales the worker pool to; set with `maxNodes`.',
    defaultText: 'unset (no autoscaling)',
  }),
  maxNodes: setting(wholeNumber(1, 100), {
    description: 'The most nodes DOKS autoscales the worker pool to; set with `minNodes`.',
    defaultText: 'unset (no autoscaling)',
  }),
  highAvailability: setting(flag(), {
    description: "DOKS's highly available control plane.",
    default: false,
  }),
  appReplicas: setting(wholeNumber(1, 50), {
    description: 'Chat replicas behind the load balancer.',
    default: 2,
  }),
  redisStorageSize: setting(storageSize, {
    description: 'The size of the Redis volume `redis-pvc` when `persistence` is `true`.',
    default: '1Gi',
  }),
  storageClass: setting(
    matching(DNS1123, 'a StorageClass name such as do-block-storage, do-block-storage-retain or standard'),
    {
      description: 'The StorageClass of the Redis volume `redis-pvc`.',
      default: 'do-block-storage',
    },
  ),
  appendfsync: setting(oneOf(APPENDFSYNC_VALUES), {
    description: "Redis's fsync policy for its append-only file, when `persistence` is `true`.",
    default: 'everysec',
  }),
  historyLimit: setting(wholeNumber(1, 10_000), {
    description: 'Messages kept in Redis (the service trims its history to this length).',
    default: 100,
    env: 'HISTORY_LIMIT',
  }),
  rateLimitPerMin: setting(wholeNumber(0, 1_000_000), {
    description: 'Posts per minute per client; `0` turns the limit off.',
    defaultText: "unset (the service's own default)",
    env: 'RATE_LIMIT_PER_MIN',
  }),
  registry: setting(registry, {
    description: 'The DigitalOcean Container Registry the built image is pushed to.',
    default: { mode: 'create', tier: 'starter' },
    defaultText: 'create `doks-chat-<random>`, tier `starter`',
  }),
  kubeconfig: setting(kubeconfig, {
    description: 'Deploy onto the cluster of this kubeconfig instead of creating one.',
    defaultText: 'unset (create a DOKS cluster)',
    secret: true,
  }),
  image: setting(
    matching(
      IMAGE_REF,
      'a container image reference such as registry.example.com/chat:1.0, chat:dev or one by digest (chat@sha256:...)',
    ),
    {
      description: 'A prebuilt image for the chat pods: no build, no registry.',
      defaultText: 'unset (build `app/Dockerfile`)',
    },
  ),
  redisPassword: setting(matching(PASSWORD, '16 to 128 printable characters without spaces (set it with --secret)'), {
    description: 'The password of Redis, which the chat replicas use.',
    defaultText: 'generated (32 characters, kept in the stack state)',
    secret: true,
  }),
  domain: setting(
    matching(FQDN, 'a lowercase fully qualified domain name such as chat.example.com (no scheme, no trailing dot)'),
    {
      description: "Serve the chat at `https://<domain>`, with a Let's Encrypt certificate and a DNS A record.",
      defaultText: "unset (plain HTTP on the load balancer's IP)",
    },
  ),
  dnsZone: setting(matching(FQDN, 'a DigitalOcean DNS zone (a domain added to the account) such as example.com'), {
    description: 'The DigitalOcean DNS zone that holds `domain`: `domain` itself or a parent of it.',
    defaultText: '`domain` without its first label',
  }),
  restoreFrom: setting(
    matching(
      VOLUME_SNAPSHOT_ID,
      'the id of a DigitalOcean volume snapshot, a UUID such as 92b46522-4798-4544-9d33-8b74ea56adb7 ' +
        '(`npm run backup -- --stack <stack> --target cluster --list` shows them)',
    ),
    {
      description: 'Create `redis-pvc` from this DigitalOcean volume snapshot (infra/restore.ts).',
      defaultText: 'unset (a new, empty `redis-pvc`)',
    },
  ),
  // issue 20: DigitalOcean Managed Valkey; the rules that tie them together are in infra/settings.ts.
  redis: setting(oneOf(REDIS_MODES), {
    description: 'Where the chat history lives.',
    default: 'pod',
  }),
  redisSize: setting(oneOf(MANAGED_SIZE_NAMES), {
    description: 'The Managed Valkey size, with `redis` `managed`.',
    default: 'db-s-1vcpu-1gb',
  }),
  redisStandby: setting(flag(), {
    description:
      'One standby node for Managed Valkey (`node_count` 2), which DigitalOcean promotes when the primary fails.',
    default: false,
  }),
};

type Declared = typeof SETTINGS;
export type SettingKey = keyof Declared;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** A setting's value once read: the text for a YAML document, else what its schema makes of it. */
export type SettingValue<K extends SettingKey> = Declared[K] extends { format: 'yaml' }
  ? string
  : z.output<Declared[K]['schema']>;

/** Every setting once read: a key with a default or a required key always has a value. */
export type StackSettings = {
  [K in SettingKey]: Declared[K] extends { default: unknown } | { required: string }
    ? SettingValue<K>
    : SettingValue<K> | undefined;
};
