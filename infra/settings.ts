/**
 * Reads a stack's `chat:` settings as Pulumi hands them to the program (every value a string,
 * an object as its JSON): each value against its declaration (app/src/stack-settings.ts), then
 * the rules that tie settings together. Every problem is reported, all at once, each naming
 * the key, what is allowed and what was given (never a secret's value). Unknown `chat:` keys
 * (typos such as `chat:replicas`) are problems too: ignoring them would deploy something other
 * than what the user asked for.
 *
 * No Pulumi here: the Pulumi program (config.ts) and the local stack (app/local/stack-config.ts)
 * read the stack file through this one function, so `npm start` refuses exactly what `pulumi up`
 * refuses. What depends on more than the stack file (the DigitalOcean token) is config.ts's.
 */
import YAML from 'yaml';
import {
  MANAGED_REDIS_SIZES,
  SETTINGS,
  SETTING_KEYS,
  type Setting,
  type SettingKey,
  type StackSettings,
} from '../app/src/stack-settings';
import { MANAGED_DATABASE_REGIONS } from './managed-redis';
import { PRICES } from './prices';

export const CONFIG_NAMESPACE = 'chat';

/** A source of raw config strings: the Pulumi config, a stack file read without Pulumi, or a plain map in tests. */
export interface RawConfig {
  /** The value as Pulumi hands it to the program; undefined when the key is not set. */
  get(key: string): string | undefined;
  /** Every `chat:*` key that is set, without the namespace. */
  keys(): string[];
}

export interface SettingsRead {
  /** Every setting: the valid values given, defaults for the rest. */
  settings: StackSettings;
  /** Only the valid values that were given. */
  given: Partial<StackSettings>;
  /** One line per problem; empty when the settings are valid. */
  problems: string[];
}

/** `chat:<key>`. */
export const full = (key: SettingKey) => `${CONFIG_NAMESPACE}:${key}`;

/** A problem as every reader says it: `<name> must be <allowed>; got "<value>"` (no value for secrets). */
export function problem(name: string, allowed: string, got?: string): string {
  return `${name} must be ${allowed}${got === undefined ? '' : `; got ${JSON.stringify(got)}`}`;
}

/** One value against its declaration: its value, or what is allowed (the message of the first issue). */
function check(setting: Setting, text: string): { ok: true; value: unknown } | { ok: false; allowed: string } {
  let input: unknown = text;
  if (setting.format === 'yaml') {
    try {
      // Errors only: yaml's warnings quote the source line, and this text may hold credentials.
      input = YAML.parse(text, { logLevel: 'error' });
    } catch {
      return { ok: false, allowed: setting.allowed };
    }
  }
  // A schema's own messages say what is allowed; an issue without one says the declaration's `allowed`.
  const result = setting.schema.safeParse(input, { error: () => setting.allowed });
  if (!result.success) return { ok: false, allowed: result.error.issues[0]?.message ?? setting.allowed };
  return { ok: true, value: setting.format === 'yaml' ? text : result.data };
}

export function readSettings(raw: RawConfig): SettingsRead {
  const problems: string[] = [];
  const known = new Set<string>(SETTING_KEYS);
  for (const key of raw.keys()) {
    if (!known.has(key)) {
      problems.push(
        `${CONFIG_NAMESPACE}:${key} is not a known key; allowed keys are ${SETTING_KEYS.map(full).join(', ')}`,
      );
    }
  }

  const given: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const setting: Setting = SETTINGS[key];
    const text = raw.get(key);
    if (text === undefined) {
      if (setting.required !== undefined) problems.push(problem(full(key), setting.required));
      continue;
    }
    const result = check(setting, text);
    if (result.ok) given[key] = result.value;
    else problems.push(problem(full(key), result.allowed, setting.secret ? undefined : text));
  }

  const read = given as Partial<StackSettings>;
  const isSet = (key: SettingKey) => raw.get(key) !== undefined;
  for (const rule of RULES) rule(read, isSet, problems);

  const defaults = Object.fromEntries(
    SETTING_KEYS.flatMap((key) => {
      const setting: Setting = SETTINGS[key];
      // A copy: a caller changing its settings does not change the declaration.
      return setting.default === undefined ? [] : [[key, structuredClone(setting.default)]];
    }),
  );
  return { settings: { ...defaults, ...read } as StackSettings, given: read, problems };
}

// ---- settings read together -----------------------------------------------------------

/** A rule over the valid values given (`isSet` also sees the invalid ones); it adds what it finds to `problems`. */
type Rule = (given: Partial<StackSettings>, isSet: (key: SettingKey) => boolean, problems: string[]) => void;

/** Autoscaling is on when chat:minNodes and chat:maxNodes are both given and in order. */
export function autoscaleOf(given: Partial<StackSettings>): { minNodes: number; maxNodes: number } | undefined {
  const { minNodes, maxNodes } = given;
  return minNodes !== undefined && maxNodes !== undefined && minNodes <= maxNodes ? { minNodes, maxNodes } : undefined;
}

/** The zone chat:domain goes in when chat:dnsZone is unset: the name without its first label. */
const parentOf = (name: string) => name.slice(name.indexOf('.') + 1);

/** chat:domain and the zone its record goes in, once both are valid. */
export function domainOf(given: Partial<StackSettings>): { name: string; zone: string } | undefined {
  const { domain: name, dnsZone } = given;
  if (name === undefined) return undefined;
  const zone = dnsZone ?? parentOf(name);
  const holds = zone === name || name.endsWith(`.${zone}`);
  return holds && zone.includes('.') ? { name, zone } : undefined;
}

/** Managed Valkey sizes that may have a standby node (2 GB of RAM or more). */
export const STANDBY_SIZES = Object.entries(MANAGED_REDIS_SIZES)
  .filter(([, gb]) => gb >= 2)
  .map(([size]) => size);

const RULES: Rule[] = [
  // A memory-only stack has no redis-pvc to create from a snapshot.
  function restoreFrom(given, isSet, problems) {
    if (isSet('restoreFrom') && given.persistence === false) {
      problems.push(
        problem(
          full('restoreFrom'),
          'set only on a stack with chat:persistence true: a memory-only stack has no redis-pvc to restore into ' +
            '(`pulumi config set chat:persistence true`, or `pulumi config rm chat:restoreFrom`)',
          given.restoreFrom,
        ),
      );
    }
  },

  // issue 20: chat:redis managed, chat:redisSize, chat:redisStandby.
  function managedRedis(given, isSet, problems) {
    if (given.redis !== 'managed') {
      if (isSet('redisSize'))
        problems.push(problem(full('redisSize'), 'set only with chat:redis managed (the pod has no database size)'));
      if (isSet('redisStandby'))
        problems.push(problem(full('redisStandby'), 'set only with chat:redis managed (the pod has no standby)'));
      return;
    }
    const size = given.redisSize ?? SETTINGS.redisSize.default;
    if (given.redisStandby && !STANDBY_SIZES.includes(size)) {
      problems.push(
        problem(
          full('redisStandby'),
          `"false" for chat:redisSize ${size}: DigitalOcean gives standby nodes only to plans with 2 GB of RAM or more ` +
            `(${STANDBY_SIZES.join(', ')}); choose one of those sizes for a standby`,
          'true',
        ),
      );
    }
    if (isSet('kubeconfig')) {
      problems.push(
        problem(
          full('redis'),
          '"pod" with chat:kubeconfig: the managed database is reached through the DOKS cluster this program creates ' +
            '(its VPC and a database firewall rule for that cluster); unset chat:kubeconfig to create one',
          'managed',
        ),
      );
    }
    const region = isSet('region') ? given.region : SETTINGS.region.default;
    if (region !== undefined && !MANAGED_DATABASE_REGIONS.includes(region)) {
      problems.push(
        problem(
          full('region'),
          `a region with DigitalOcean Managed Databases for chat:redis managed (${MANAGED_DATABASE_REGIONS.join(', ')}, ` +
            `as read on ${PRICES.readOn})`,
          region,
        ),
      );
    }
  },

  function autoscaling(given, isSet, problems) {
    if (isSet('minNodes') !== isSet('maxNodes')) {
      const [missing, set] = isSet('minNodes')
        ? (['maxNodes', 'minNodes'] as const)
        : (['minNodes', 'maxNodes'] as const);
      problems.push(
        problem(full(missing), `set as well when chat:${set} is set (the two together turn on autoscaling)`),
      );
    }
    const { minNodes, maxNodes, nodeCount } = given;
    if (minNodes !== undefined && maxNodes !== undefined && minNodes > maxNodes) {
      problems.push(problem(full('minNodes'), `at most chat:maxNodes (${maxNodes})`, String(minNodes)));
    }
    const autoscale = autoscaleOf(given);
    if (autoscale && isSet('nodeCount')) {
      // The provider sends a set count on every update of the pool, resetting the autoscaler's
      // size (infra/cluster.ts, the workers pool).
      problems.push(
        problem(
          full('nodeCount'),
          'unset when chat:minNodes and chat:maxNodes turn on autoscaling (`pulumi config rm chat:nodeCount`): the pool ' +
            'starts at chat:minNodes and the autoscaler sizes it; a count would reset that size at every later change of the pool',
          String(nodeCount),
        ),
      );
    }
  },

  function dnsZone(given, isSet, problems) {
    const { domain: name, dnsZone: zone } = given;
    if (isSet('dnsZone') && !isSet('domain')) {
      problems.push(
        problem(full('dnsZone'), 'set only together with chat:domain (it names the zone that holds chat:domain)'),
      );
    } else if (name !== undefined && zone !== undefined) {
      if (zone !== name && !name.endsWith(`.${zone}`)) {
        problems.push(
          problem(full('dnsZone'), `chat:domain (${name}) itself or a parent of it, such as ${parentOf(name)}`, zone),
        );
      }
    } else if (name !== undefined && !isSet('dnsZone') && !parentOf(name).includes('.')) {
      // The default zone, the name without its first label, would be a top-level domain.
      problems.push(
        problem(
          full('dnsZone'),
          `set when chat:domain has only two labels: the default (chat:domain without its first label) would be "${parentOf(name)}"; set it to ${name} to serve the chat at the zone's apex`,
        ),
      );
    }
  },
];
