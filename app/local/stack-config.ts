import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { APPENDFSYNC_VALUES, type AppendFsync } from '../../infra/persistence';

/**
 * The local stack's view of a Pulumi stack file (`Pulumi.<stack>.yaml`): the same
 * keys `pulumi up` reads, so `npm start -- --stack stateful` runs what the cluster runs.
 * Read with the `yaml` package, without Pulumi, so it works on a laptop with no CLI.
 */

export type StackName = 'stateless' | 'stateful';
export const STACK_NAMES: readonly StackName[] = ['stateless', 'stateful'];

export interface StackConfig {
  stack: StackName;
  /** Absolute path of the stack file that was read. */
  file: string;
  /** `chat:persistence`: Redis keeps an append-only file on a volume. */
  persistent: boolean;
  /** `chat:appReplicas` (default 2): chat replicas behind the load balancer. */
  appReplicas: number;
  /** `chat:appendfsync` (default everysec). */
  appendfsync: AppendFsync;
  /** `chat:historyLimit` (default 100): messages kept in `chat_history`. */
  historyLimit: number;
}

export class StackConfigError extends Error {}

export const DEFAULTS = { appReplicas: 2, appendfsync: 'everysec' as AppendFsync, historyLimit: 100 };

/** The repository root: the nearest directory above this file holding Pulumi.yaml and package.json. */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'Pulumi.yaml')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new StackConfigError(`cannot find the repository root (Pulumi.yaml) above ${from}`);
    dir = parent;
  }
}

/** Validates a `--stack` value. */
export function parseStackName(value: string | undefined): StackName {
  if (value !== undefined && (STACK_NAMES as readonly string[]).includes(value)) return value as StackName;
  throw new StackConfigError(
    `--stack must be one of ${STACK_NAMES.join(', ')}; got ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
  );
}

export function stackFile(stack: StackName, root: string = repoRoot()): string {
  return path.join(root, `Pulumi.${stack}.yaml`);
}

/**
 * Creates `Pulumi.<stack>.yaml` with `chat:persistence` when it does not exist yet
 * (the Pulumi program fills in the rest). Returns whether it wrote the file.
 */
export function ensureStackFile(stack: StackName, root: string = repoRoot()): boolean {
  const file = stackFile(stack, root);
  if (fs.existsSync(file)) return false;
  const persistent = stack === 'stateful';
  const comment = persistent
    ? '# Phase 2 of the tutorial: Redis writes an append-only file to a do-block-storage volume.'
    : '# Phase 1 of the tutorial: Redis keeps chat history in memory only.';
  fs.writeFileSync(file, `${comment}\nconfig:\n  chat:persistence: "${persistent}"\n`);
  return true;
}

export function readStackConfig(stack: StackName, root: string = repoRoot()): StackConfig {
  stack = parseStackName(stack);
  const file = stackFile(stack, root);
  const name = path.basename(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new StackConfigError(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new StackConfigError(`${name}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const config = (doc as { config?: unknown } | null)?.config;
  if (config !== undefined && config !== null && (typeof config !== 'object' || Array.isArray(config))) {
    throw new StackConfigError(`${name}: "config" must be a mapping of keys to values`);
  }
  const values = (config ?? {}) as Record<string, unknown>;

  /** A plain value (Pulumi YAML config holds strings, numbers or booleans), as a string. */
  const get = (key: string): string | undefined => {
    const v = values[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v).trim();
    throw new StackConfigError(`${name}: ${key} must be a plain value; got ${JSON.stringify(v)}`);
  };
  const bad = (key: string, allowed: string, got: string) =>
    new StackConfigError(`${name}: ${key} must be ${allowed}; got ${JSON.stringify(got)}`);
  const integer = (key: string, def: number, min: number, max: number): number => {
    const raw = get(key);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) throw bad(key, `a whole number from ${min} to ${max}`, raw);
    return n;
  };

  const persistence = get('chat:persistence');
  if (persistence === undefined) {
    throw new StackConfigError(`${name}: chat:persistence is required ("true" or "false")`);
  }
  if (persistence !== 'true' && persistence !== 'false')
    throw bad('chat:persistence', '"true" or "false"', persistence);

  const appendfsync = get('chat:appendfsync') ?? DEFAULTS.appendfsync;
  if (!(APPENDFSYNC_VALUES as readonly string[]).includes(appendfsync)) {
    throw bad('chat:appendfsync', `one of ${APPENDFSYNC_VALUES.join(', ')}`, appendfsync);
  }

  return {
    stack,
    file,
    persistent: persistence === 'true',
    appReplicas: integer('chat:appReplicas', DEFAULTS.appReplicas, 1, 50),
    appendfsync: appendfsync as AppendFsync,
    historyLimit: integer('chat:historyLimit', DEFAULTS.historyLimit, 1, 100_000),
  };
}
