import { PassThrough } from 'node:stream';
import { nonEmpty, oneOf, parseCommandLine, UsageError, wholeNumber } from '../cli/args';
import { Progress } from '../cli/progress';
import { renderTable } from '../cli/table';
import { waitFor } from '../cli/wait';
import { parseArgs as parseBenchArgs } from '../bench/args';

/** The command-line toolkit every tool shares (app/cli): one parser, one progress line, one table, one waitFor. */
describe('parseCommandLine', () => {
  const OPTIONS = {
    stack: { type: 'string' },
    quick: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const;

  it('reads --flag value, --flag=value, booleans and short flags', () => {
    expect(parseCommandLine(['--stack', 'stateful', '--quick'], OPTIONS)).toEqual({ stack: 'stateful', quick: true });
    expect(parseCommandLine(['--stack=-odd', '-h'], OPTIONS)).toEqual({ stack: '-odd', help: true });
    expect(parseCommandLine([], OPTIONS)).toEqual({});
  });

  it.each([
    [['--loud'], 'unknown option --loud (see --help)'],
    [['-x'], 'unknown option -x (see --help)'],
    [['extra'], 'unexpected argument "extra" (options start with --; see --help)'],
    [['--', '--quick'], 'unexpected argument "--" (options start with --; see --help)'],
    [['--quick=yes'], '--quick takes no value'],
    [['--stack'], '--stack needs a value'],
    [['--stack', '--quick'], '--stack needs a value'],
    [['--quick', '--quick'], '--quick given twice'],
    [['--stack', 'a', '--stack=b'], '--stack given twice'],
  ])('%j: %s', (argv, message) => {
    let thrown: unknown;
    try {
      parseCommandLine(argv, OPTIONS);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).message).toBe(message);
    expect((thrown as UsageError).exitCode).toBe(2);
  });

  it('checks values in the same words for every command', () => {
    expect(wholeNumber('port', '8080', 0, 65535)).toBe(8080);
    expect(() => wholeNumber('port', '80.5', 0, 65535)).toThrow(
      '--port must be a whole number from 0 to 65535; got "80.5"',
    );
    expect(() => wholeNumber('replicas', '1', 2, 16, 'two at least')).toThrow(
      '--replicas must be a whole number from 2 to 16 (two at least); got "1"',
    );
    expect(oneOf('stack', 'stateless', ['stateless', 'stateful'])).toBe('stateless');
    expect(() => oneOf('stack', 'prod', ['stateless', 'stateful'])).toThrow(
      '--stack must be one of stateless, stateful; got "prod"',
    );
    expect(() => nonEmpty('data-dir', '  ')).toThrow('--data-dir must not be empty');
  });

  it("the benchmarks' command line uses it, with --replicas' reason kept", () => {
    expect(parseBenchArgs(['--quick', '--json', '--replicas', '3'])).toMatchObject({
      quick: true,
      json: true,
      replicas: 3,
    });
    expect(() => parseBenchArgs(['--replicas', '1'])).toThrow(
      '--replicas must be a whole number from 2 to 16 (the live feed needs two); got "1"',
    );
    expect(() => parseBenchArgs(['--append'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--fanout', '--stream-memory'])).toThrow(/choose one/);
  });
});

describe('renderTable', () => {
  it('pads columns, aligns numbers right, and sets a footer apart', () => {
    const text = renderTable(
      ['cycle', 'lost', 'AOF loaded'],
      [
        [1, 0, 'yes'],
        [2, 12, 'no'],
      ],
      { left: [0, 2], footer: [['total', 12, 'not every cycle']] },
    );
    expect(text.split('\n')).toEqual([
      'cycle  lost  AOF loaded',
      '-----  ----  ---------------',
      '1         0  yes',
      '2        12  no',
      '-----  ----  ---------------',
      'total    12  not every cycle',
    ]);
  });
});

describe('Progress', () => {
  const capture = (isTTY: boolean) => {
    const out = new PassThrough() as PassThrough & { isTTY: boolean; columns: number };
    out.isTTY = isTTY;
    out.columns = 40;
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    return { out: out as unknown as NodeJS.WriteStream, text: () => text };
  };

  it('writes one line per step when the output is not a terminal', () => {
    const c = capture(false);
    const p = new Progress('experiment', { out: c.out });
    p.update('starting');
    p.note('cycle 1: 20 kept');
    p.clear();
    expect(c.text()).toBe('[experiment] starting\n[experiment] cycle 1: 20 kept\n');
  });

  it('rewrites the step in place on a terminal, cut to its width, and erases it before a note', () => {
    const c = capture(true);
    const p = new Progress('bench', { out: c.out, clock: true });
    p.update('a step whose text is far too long for forty columns');
    p.note('done');
    expect(c.text()).toBe(`\r\x1b[K[bench   0 s] a step whose text is far…\r\x1b[K[bench   0 s] done\n`);
  });
});

describe('waitFor', () => {
  it('returns the first truthy value, treating a throwing check as not yet', async () => {
    let calls = 0;
    const value = await waitFor(
      'the third call',
      () => {
        calls++;
        if (calls === 1) throw new Error('not listening yet');
        return calls === 3 && 'ready';
      },
      1000,
      1,
    );
    expect([value, calls]).toEqual(['ready', 3]);
  });

  it('fails after the timeout, naming what it waited for (described late) and the last error', async () => {
    let seen = 'nothing';
    const waiting = waitFor(
      () => `a line (log: ${seen})`,
      () => {
        seen = 'something else';
        throw new Error('boom');
      },
      30,
      5,
    );
    await expect(waiting).rejects.toThrow(
      /^timed out after 30 ms waiting for a line \(log: something else\) \(last error: boom\)$/,
    );
  });
});
