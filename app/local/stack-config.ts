import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { AppendFsync, StackSettings } from '../src/stack-settings';
import { CONFIG_NAMESPACE, readSettings, type RawConfig } from '../../infra/settings';

/**
 * The local stack's view of a Pulumi stack file (`Pulumi.<stack>.yaml`): the same
 * keys `pulumi up` reads, so `npm start -- --stack stateful` runs what the cluster runs.
 * Read with the `yaml` package, without Pulumi, so it works on a laptop with no CLI, and
 * checked by the Pulumi program's own reader (infra/settings.ts): the local stack refuses
 * exactly what `pulumi up` refuses, before it starts anything.
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
  /** Every `chat:` setting as the Pulumi program reads it (secrets the file holds encrypted are unset). */
  settings: StackSettings;
}

export class StackConfigError extends Error {}

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
  // The same document with every scalar as the text it is written as (see stackFileValue).
  const texts = (YAML.parse(text, { schema: 'failsafe' }) as { config?: Record<string, unknown> } | null)?.config ?? {};
  const values = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries((config ?? {}) as Record<string, unknown>)) {
    if (key.startsWith(`${CONFIG_NAMESPACE}:`)) {
      values.set(key.slice(CONFIG_NAMESPACE.length + 1), stackFileValue(value, texts[key]));
    }
  }
  const raw: RawConfig = { get: (key) => values.get(key), keys: () => [...values.keys()] };

  const { settings, problems } = readSettings(raw);
  if (problems.length > 0) throw new StackConfigError(problems.map((p) => `${name}: ${p}`).join('\n'));
  return {
    stack,
    file,
    persistent: settings.persistence,
    appReplicas: settings.appReplicas,
    appendfsync: settings.appendfsync,
    historyLimit: settings.historyLimit,
    settings,
  };
}

/**
 * A stack file's value as Pulumi hands it to the program (pulumi/pulumi
 * sdk/go/common/resource/config/value.go, unmarshalValue): a scalar as the text it is
 * written as (`2`, `"2"` and `true` arrive as "2", "2" and "true"; an empty value as ""); a
 * mapping or list as its JSON. A `secure:` value is encrypted with the stack's secrets
 * provider, which the local stack cannot open: its key is known but its value unread, so it is
 * not checked here (`pulumi up` checks it once decrypted).
 */
function stackFileValue(value: unknown, text: unknown): string | undefined {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'object')
    return typeof text === 'string' ? text : typeof value === 'string' ? value : JSON.stringify(value);
  const keys = Object.keys(value);
  if (!Array.isArray(value) && keys.length === 1 && keys[0] === 'secure') return undefined;
  return JSON.stringify(value);
}
