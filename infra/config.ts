/**
 * The stack configuration, read once and validated before any resource is declared.
 *
 * Every `chat:*` key is declared once, in app/src/stack-settings.ts, and read by
 * settings.ts (which the local stack uses too); this module adds what needs Pulumi or the
 * environment: the raw values from Pulumi's config, the DigitalOcean token, secrets kept
 * secret, and the error Pulumi prints. A wrong value stops the program with a message that
 * names the key, says what is allowed and shows what was given, all problems together, so
 * one `pulumi up` shows everything to fix.
 */
import * as pulumi from '@pulumi/pulumi';
import type { StackSettings } from '../app/src/stack-settings';
import { autoscaleOf, CONFIG_NAMESPACE, domainOf, problem, readSettings, type RawConfig } from './settings';

export { CONFIG_NAMESPACE, type RawConfig };
export { REGISTRY_TIERS, type RegistryConfig, type RegistryTier } from '../app/src/stack-settings';

/** Settings the program takes in another shape than the stack file's. */
type Reshaped = 'nodeCount' | 'kubeconfig' | 'redisPassword' | 'domain';

/** The stack's settings (a key added to app/src/stack-settings.ts arrives here as it is), and what follows from them. */
export type ChatConfig = Omit<StackSettings, Reshaped> & {
  /** Pulumi stack name; names the cluster. */
  stack: string;
  /** The workers' node count; undefined with autoscaling (the pool starts at minNodes, then the autoscaler sizes it). */
  nodeCount?: number;
  autoscale?: { minNodes: number; maxNodes: number };
  /** Deploy onto this existing cluster instead of creating one (secret). */
  kubeconfig?: pulumi.Output<string>;
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
  /** Whether chat:redis was set at all: only then does the program compare with the last deployment (redis-switch.ts). */
  redisExplicit: boolean;
};

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
  const { settings, given, problems } = readSettings(raw);

  // A created cluster is reached with a kubeconfig built on the DigitalOcean token (see cluster.ts),
  // and the certificate and DNS record of chat:domain are DigitalOcean resources: either needs
  // the token before anything is created.
  const existingCluster = raw.get('kubeconfig') !== undefined;
  let doToken: pulumi.Output<string> | undefined;
  if (!existingCluster || raw.get('domain') !== undefined) {
    const token = (options.doToken ?? digitalOceanToken)();
    if (token && !existingCluster) {
      doToken = pulumi.secret(token);
    } else if (!token && !existingCluster) {
      problems.push(
        problem(
          'digitalocean:token',
          'set to create a cluster: `pulumi config set --secret digitalocean:token <token>` or export DIGITALOCEAN_TOKEN ' +
            '(or set chat:kubeconfig to deploy onto an existing cluster)',
        ),
      );
    } else if (!token) {
      problems.push(
        problem(
          'chat:domain',
          "used with a DigitalOcean API token, also with chat:kubeconfig: its Let's Encrypt certificate and DNS record are " +
            'created through the DigitalOcean API (`pulumi config set --secret digitalocean:token <token>` or export ' +
            "DIGITALOCEAN_TOKEN); or unset chat:domain to serve plain HTTP on the load balancer's IP",
        ),
      );
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);

  const autoscale = autoscaleOf(given);
  return {
    ...settings,
    stack: options.stack ?? pulumi.getStack(),
    // With autoscaling no count is ever sent (settings.ts refuses chat:nodeCount with it; cluster.ts, the workers pool).
    nodeCount: autoscale ? undefined : settings.nodeCount,
    autoscale,
    kubeconfig: settings.kubeconfig === undefined ? undefined : pulumi.secret(settings.kubeconfig),
    redisPassword: settings.redisPassword === undefined ? undefined : pulumi.secret(settings.redisPassword),
    doToken,
    domain: domainOf(given),
    redisExplicit: raw.get('redis') !== undefined,
  };
}
