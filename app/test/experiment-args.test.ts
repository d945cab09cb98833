import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../cli/args';
import { parseArgs } from '../experiment/args';

const root = path.resolve(__dirname, '..', '..');
const mainJs = path.join(root, 'dist', 'app', 'experiment', 'main.js');

describe('experiment arguments', () => {
  it("the defaults: local target, 20 messages, 3 cycles, no load, the stack's own fsync policy", () => {
    const opts = parseArgs(['--stack', 'stateful']);
    expect(opts.appendfsync).toBeUndefined();
    expect(opts).toMatchObject({
      stack: 'stateful',
      target: 'local',
      messages: 20,
      cycles: 3,
      load: false,
      rate: 200,
      json: false,
      port: 0,
      namespace: 'default',
      timeoutSeconds: 60,
    });
  });

  it('every flag of the issue, in both --flag value and --flag=value forms', () => {
    expect(
      parseArgs([
        '--stack=stateful',
        '--target',
        'local',
        '--messages',
        '7',
        '--cycles=2',
        '--load',
        '--appendfsync',
        'always',
        '--json',
      ]),
    ).toMatchObject({
      stack: 'stateful',
      target: 'local',
      messages: 7,
      cycles: 2,
      load: true,
      appendfsync: 'always',
      json: true,
    });
    expect(
      parseArgs([
        '--stack',
        'stateless',
        '--target',
        'cluster',
        '--url',
        'http://203.0.113.10',
        '--kubeconfig',
        'k.yaml',
        '--namespace',
        'chat',
      ]),
    ).toMatchObject({
      target: 'cluster',
      url: 'http://203.0.113.10',
      kubeconfig: 'k.yaml',
      namespace: 'chat',
      timeoutSeconds: 300,
    });
  });

  it.each([
    [[], /--stack is required/],
    [['--stack', 'stateful-ish'], /--stack must be one of stateless, stateful; got "stateful-ish"/],
    [['--stack', 'stateful', '--target', 'cloud'], /--target must be one of local, cluster; got "cloud"/],
    [['--stack', 'stateful', '--messages', '0'], /--messages must be a whole number from 1 to 10000; got "0"/],
    [['--stack', 'stateful', '--messages', 'ten'], /--messages must be a whole number .* got "ten"/],
    [['--stack', 'stateful', '--cycles', '2.5'], /--cycles must be a whole number from 1 to 1000; got "2.5"/],
    [['--stack', 'stateful', '--appendfsync', 'no'], /--appendfsync must be one of everysec, always; got "no"/],
    [['--stack', 'stateless', '--appendfsync', 'always'], /--appendfsync applies only to --stack stateful/],
    [['--stack', 'stateful', '--messages'], /--messages needs a value/],
    [['--stack', 'stateful', '--messages', '--load'], /--messages needs a value/],
    [['--stack', 'stateful', '--loud'], /unknown option --loud/],
    [['--stack', 'stateful', 'extra'], /unexpected argument "extra"/],
    [['--stack', 'stateful', '--json=yes'], /--json takes no value/],
    [['--stack', 'stateful', '--cycles', '2', '--cycles', '3'], /--cycles given twice/],
    [['--stack', 'stateful', '--url', 'http://x'], /--url applies only to --target cluster/],
    [
      ['--stack', 'stateful', '--target', 'cluster', '--data-dir', '/tmp/x'],
      /--data-dir applies only to --target local/,
    ],
    [['--stack', 'stateful', '--target', 'cluster', '--url', 'ftp://x'], /--url must be an http\(s\) URL/],
    [['--stack', 'stateful', '--rate', '50'], /--rate applies only with --load/],
    [['--stack', 'stateful', '--redis', 'valkey'], /--redis must be one of pod, managed; got "valkey"/],
    [
      ['--stack', 'stateful', '--redis', 'managed', '--target', 'cluster'],
      /--redis managed with --target cluster: the experiment cannot kill a managed database.*npm run experiment -- --stack stateful --redis managed/,
    ],
    [
      ['--stack', 'stateful', '--redis', 'managed', '--appendfsync', 'always'],
      /--appendfsync applies only to --redis pod/,
    ],
    [
      ['--stack', 'stateful', '--snapshot-seconds', '5'],
      /--snapshot-seconds applies only to --stack stateful --redis managed/,
    ],
    [['--stack', 'stateless', '--redis', 'managed', '--snapshot-seconds', '5'], /--snapshot-seconds applies only/],
    [
      ['--stack', 'stateful', '--redis', 'managed', '--snapshot-seconds', '0'],
      /--snapshot-seconds must be a whole number from 1 to 3600/,
    ],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('--redis managed, with the managed schedule or a compressed one', () => {
    expect(parseArgs(['--stack', 'stateful']).redis).toBe('pod');
    const managed = parseArgs(['--stack', 'stateful', '--redis', 'managed']);
    expect([managed.redis, managed.snapshotSeconds]).toEqual(['managed', undefined]);
    expect(parseArgs(['--stack', 'stateful', '--redis=managed', '--snapshot-seconds=2'])).toMatchObject({
      redis: 'managed',
      snapshotSeconds: 2,
    });
  });

  describe('the built CLI', () => {
    beforeAll(() => {
      if (!fs.existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);
    });
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', timeout: 30_000 });

    it('a bad value: exit 2, one line naming the flag and the value, the usage, no stack trace', () => {
      const r = run('--stack', 'stateful', '--cycles', 'many');
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /^experiment: --cycles must be a whole number from 1 to 1000; got "many"\nUsage: npm run experiment -- --stack/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    it('--help prints every option and exits 0', () => {
      const r = run('--help');
      expect(r.status).toBe(0);
      for (const flag of [
        '--stack',
        '--target',
        '--messages',
        '--cycles',
        '--load',
        '--appendfsync',
        '--json',
        '--url',
        '--kubeconfig',
        '--data-dir',
      ]) {
        expect(r.stdout).toContain(flag);
      }
    });

    it('a cluster target with no stack outputs (no Pulumi CLI here): exit 1, a clear message, no stack trace', () => {
      const r = run('--stack', 'stateful', '--target', 'cluster', '--url', 'http://127.0.0.1:9');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /experiment: cannot set up the target: .*(Pulumi CLI is not installed|cannot read the outputs).*--kubeconfig <file>/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  });
});
