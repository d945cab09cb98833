/**
 * The command line of every tool (npm start, the experiment, the benchmarks): Node's own
 * `parseArgs` reads it, and every mistake becomes one UsageError whose message names the
 * flag and what it needs, in the same words for every command.
 */
import { parseArgs } from 'node:util';

/** A mistake on the command line: the tool prints it with its usage line and exits 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
}

/** What was given: true for a boolean flag, the text for a string flag, absent when not given. */
export type Given<O extends Record<string, OptionSpec>> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? true : string;
};

/**
 * Reads `argv` against `options`. Node's parser runs leniently and returns its tokens, so
 * that the checks and their messages are ours and the same on every Node major: no
 * positional arguments, no unknown option, no flag twice, no value for a boolean flag,
 * and a value for a string flag (one that starts with `-` is taken for a forgotten value,
 * unless given as `--flag=-x`).
 */
export function parseCommandLine<const O extends Record<string, OptionSpec>>(
  argv: readonly string[],
  options: O,
): Given<O> {
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const given: Record<string, string | true> = {};
  for (const token of tokens) {
    if (token.kind !== 'option') {
      const arg = token.kind === 'positional' ? token.value : '--';
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (options start with --; see --help)`);
    }
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!spec) throw new UsageError(`unknown option ${token.rawName} (see --help)`);
    const flag = `--${token.name}`;
    if (Object.hasOwn(given, token.name)) throw new UsageError(`${flag} given twice`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${flag} takes no value`);
      given[token.name] = true;
    } else {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
        throw new UsageError(`${flag} needs a value`);
      }
      given[token.name] = token.value;
    }
  }
  return given as Given<O>;
}

/** A whole number from min to max; `why` says where the bounds come from. */
export function wholeNumber(flag: string, raw: string, min: number, max: number, why?: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    const reason = why ? ` (${why})` : '';
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}${reason}; got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** One of the allowed words. */
export function oneOf<T extends string>(flag: string, raw: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}; got ${JSON.stringify(raw)}`);
}

/** Text that is not blank (a path, a name). */
export function nonEmpty(flag: string, raw: string): string {
  if (raw.trim() === '') throw new UsageError(`--${flag} must not be empty`);
  return raw;
}

/**
 * How every tool reports a UsageError: `<command>: <what is wrong>`, then how to call it,
 * on stderr, no stack trace. Returns the exit code (2).
 */
export function reportUsageError(command: string, synopsis: string, err: UsageError): number {
  process.stderr.write(`${command}: ${err.message}\nUsage: ${synopsis}  (--help for all options)\n`);
  return err.exitCode;
}
