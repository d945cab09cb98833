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
    expect(readStackConfig('stateful', root)).toEqual({
      stack: 'stateful',
      file: path.join(root, 'Pulumi.stateful.yaml'),
      persistent: true,
      appReplicas: 2,
      appendfsync: 'everysec',
      historyLimit: 100,
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
    expect(errorOf(() => readStackConfig('stateful', root))).toBe(
      'Pulumi.stateful.yaml: chat:persistence is required ("true" or "false")',
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
    write('stateful', 'config: [\n');
    expect(errorOf(() => readStackConfig('stateful', root))).toMatch(/^Pulumi\.stateful\.yaml: not valid YAML/);
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
