import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  StackConfigError,
  ensureStackFile,
  parseStackName,
  readStackConfig,
  repoRoot,
  stackFile,
} from '../local/stack-config';

describe('readStackConfig: the local stack follows Pulumi.<stack>.yaml', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-config-test-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const write = (stack: string, body: string) => fs.writeFileSync(path.join(root, `Pulumi.${stack}.yaml`), body);
  const errorOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(StackConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a StackConfigError');
  };

  it('reads the repository stack files: stateless is memory-only, stateful persistent', () => {
    expect(readStackConfig('stateless').persistent).toBe(false);
    expect(readStackConfig('stateful').persistent).toBe(true);
    expect(readStackConfig('stateful').file).toBe(path.join(repoRoot(), 'Pulumi.stateful.yaml'));
  });

  it('applies the defaults when only chat:persistence is set', () => {
    write('stateful', 'config:\n  chat:persistence: "true"\n');
    expect(readStackConfig('stateful', root)).toMatchObject({
      stack: 'stateful',
      file: path.join(root, 'Pulumi.stateful.yaml'),
      persistent: true,
      appReplicas: 2,
      appendfsync: 'everysec',
      historyLimit: 100,
      // Every setting, as the Pulumi program reads it.
      settings: { persistence: true, region: 'nyc1', registry: { mode: 'create', tier: 'starter' } },
    });
  });

  it('reads replicas, appendfsync and history limit given as strings or numbers', () => {
    write(
      'stateless',
      'config:\n  chat:persistence: "false"\n  chat:appReplicas: "3"\n  chat:appendfsync: always\n  chat:historyLimit: 250\n  digitalocean:region: ams3\n',
    );
    expect(readStackConfig('stateless', root)).toMatchObject({
      persistent: false,
      appReplicas: 3,
      appendfsync: 'always',
      historyLimit: 250,
    });
  });

  it('names the file and the key when a value is wrong or missing', () => {
    write('stateful', 'config:\n  chat:persistence: "yes"\n');
    expect(errorOf(() => readStackConfig('stateful', root))).toBe(
      'Pulumi.stateful.yaml: chat:persistence must be "true" or "false"; got "yes"',
    );
    write('stateful', 'config:\n  chat:appReplicas: 2\n');
    // The Pulumi program's message: it says what each value means.
    expect(errorOf(() => readStackConfig('stateful', root))).toBe(
      'Pulumi.stateful.yaml: chat:persistence must be set: "false" for memory-only Redis (Pulumi.stateless.yaml) ' +
        'or "true" for an append-only file on a volume (Pulumi.stateful.yaml)',
    );
    write('stateful', 'config:\n  chat:persistence: "true"\n  chat:appReplicas: "0"\n');
    expect(errorOf(() => readStackConfig('stateful', root))).toMatch(
      /^Pulumi\.stateful\.yaml: chat:appReplicas must be a whole number from 1 to \d+; got "0"$/,
    );
    write('stateful', 'config:\n  chat:persistence: "true"\n  chat:appendfsync: "no"\n');
    expect(errorOf(() => readStackConfig('stateful', root))).toBe(
      'Pulumi.stateful.yaml: chat:appendfsync must be one of everysec, always; got "no"',
    );
    write('stateful', 'config:\n  chat:persistence: "true"\n  chat:historyLimit: "lots"\n');
    expect(errorOf(() => readStackConfig('stateful', root))).toMatch(
      /^Pulumi\.stateful\.yaml: chat:historyLimit must be/,
    );
    // The bound is the service's (HISTORY_LIMIT), which every replica would refuse past.
    write('stateful', 'config:\n  chat:persistence: "true"\n  chat:historyLimit: "50000"\n');
    expect(errorOf(() => readStackConfig('stateful', root))).toBe(
      'Pulumi.stateful.yaml: chat:historyLimit must be a whole number from 1 to 10000; got "50000"',
    );
    write('stateful', 'config: [\n');
    expect(errorOf(() => readStackConfig('stateful', root))).toMatch(/^Pulumi\.stateful\.yaml: not valid YAML/);
  });

  it('reports every problem, one line each, unknown keys included', () => {
    write('stateless', 'config:\n  chat:persistence: maybe\n  chat:replicas: 3\n  chat:appReplicas: 0\n');
    expect(errorOf(() => readStackConfig('stateless', root)).split('\n')).toEqual([
      expect.stringMatching(
        /^Pulumi\.stateless\.yaml: chat:replicas is not a known key; allowed keys are .*chat:appReplicas/,
      ),
      'Pulumi.stateless.yaml: chat:persistence must be "true" or "false"; got "maybe"',
      'Pulumi.stateless.yaml: chat:appReplicas must be a whole number from 1 to 50; got "0"',
    ]);
  });

  it('takes values as Pulumi hands them over: scalars as written, objects as JSON, secure values unread', () => {
    write(
      'stateless',
      [
        'config:',
        '  chat:persistence: false',
        '  chat:appReplicas: 3',
        '  chat:registry:',
        '    name: reg-1',
        '    existing: true',
        '  chat:redisPassword:',
        '    secure: v1:abcdefgh',
        '  digitalocean:token:',
        '    secure: v1:ijklmnop',
        '',
      ].join('\n'),
    );
    const { settings } = readStackConfig('stateless', root);
    expect(settings).toMatchObject({
      persistence: false,
      appReplicas: 3,
      registry: { mode: 'existing', name: 'reg-1' },
    });
    expect(settings.redisPassword).toBeUndefined();
    // `1.0` is the text "1.0" to Pulumi, not the number 1: not a whole number.
    write('stateless', 'config:\n  chat:persistence: false\n  chat:appReplicas: 1.0\n');
    expect(errorOf(() => readStackConfig('stateless', root))).toBe(
      'Pulumi.stateless.yaml: chat:appReplicas must be a whole number from 1 to 50; got "1.0"',
    );
    // A registry name of digits is a number in the object Pulumi passes as JSON: refused, as `pulumi up` refuses it.
    write('stateless', 'config:\n  chat:persistence: false\n  chat:registry:\n    name: 123\n');
    expect(errorOf(() => readStackConfig('stateless', root))).toMatch(/problem at chat:registry\.name/);
  });

  it('says which file is missing', () => {
    expect(errorOf(() => readStackConfig('stateless', root))).toMatch(/^Pulumi\.stateless\.yaml: cannot read .*ENOENT/);
  });

  it('creates a missing stack file with chat:persistence, and leaves an existing one alone', () => {
    expect(ensureStackFile('stateful', root)).toBe(true);
    expect(ensureStackFile('stateless', root)).toBe(true);
    expect(readStackConfig('stateful', root).persistent).toBe(true);
    expect(readStackConfig('stateless', root).persistent).toBe(false);
    fs.writeFileSync(stackFile('stateful', root), 'config:\n  chat:persistence: "false"\n');
    expect(ensureStackFile('stateful', root)).toBe(false);
    expect(readStackConfig('stateful', root).persistent).toBe(false);
  });

  it('accepts only stateless and stateful as --stack', () => {
    expect(parseStackName('stateless')).toBe('stateless');
    expect(parseStackName('stateful')).toBe('stateful');
    expect(errorOf(() => parseStackName('prod'))).toBe('--stack must be one of stateless, stateful; got "prod"');
    expect(errorOf(() => parseStackName(undefined))).toBe('--stack must be one of stateless, stateful; got nothing');
  });
});
