/**
 * Every `chat:` setting in one table, values it accepts and values it refuses. For each, the
 * local stack (app/local/stack-config.ts, which reads Pulumi.<stack>.yaml without Pulumi) and the
 * Pulumi program (config.ts) must agree: both accept it, or both refuse it with the same
 * problems. Where a setting becomes one of the service's environment variables (its `env`), the
 * service accepts exactly what the setting accepts, so no replica refuses what `pulumi up` and
 * `npm start` let through.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readStackConfig, StackConfigError } from '../../app/local/stack-config';
import { ConfigError as ServiceConfigError, loadConfig as loadServiceConfig } from '../../app/src/config';
import { SETTING_KEYS, SETTINGS, type Setting, type SettingKey } from '../../app/src/stack-settings';
import { ConfigError, loadConfig } from '../config';

interface Cases {
  /** Values as Pulumi hands them to the program. */
  accepted: string[];
  refused: string[];
  /** Other settings each value is tried with (besides chat:persistence). */
  with?: Record<string, string>;
}

const DIGEST = '0'.repeat(64);

/** Typed over every key: a key added to app/src/stack-settings.ts without its cases does not compile. */
const CASES: Record<SettingKey, Cases> = {
  persistence: { accepted: ['true', 'false'], refused: ['yes', '1', 'True', ''] },
  region: { accepted: ['nyc1', 'fra1'], refused: ['Frankfurt', 'nyc', 'NYC1', ''] },
  kubernetesVersion: { accepted: ['1', '1.33', '1.33.1', '1.33.1-do.0'], refused: ['latest', 'v1.33', '1.33.1.1'] },
  nodeSize: { accepted: ['s-2vcpu-2gb', 'g-2vcpu-8gb-intel', 'c-4'], refused: ['big', 'S-2VCPU-2GB', 's-'] },
  nodeCount: { accepted: ['1', '100', ' 3 '], refused: ['0', '101', 'two', '2.5', '-1', ''] },
  minNodes: { with: { 'chat:maxNodes': '100' }, accepted: ['1', '100'], refused: ['0', '101', 'x'] },
  maxNodes: { with: { 'chat:minNodes': '2' }, accepted: ['2', '100'], refused: ['0', '101', 'x'] },
  highAvailability: { accepted: ['true', 'false'], refused: ['1', 'yes'] },
  appReplicas: { accepted: ['1', '50'], refused: ['0', '51', '2.5'] },
  redisStorageSize: {
    accepted: ['1Gi', '16Ti', '2048Mi', '5Gi'],
    refused: ['500Mi', '1GB', '1536Mi', '17Ti', '0Gi'],
  },
  storageClass: { accepted: ['do-block-storage', 'standard', 'a.b'], refused: ['Do_Block', '-x', ''] },
  appendfsync: { accepted: ['everysec', 'always'], refused: ['no', 'EVERYSEC'] },
  historyLimit: { accepted: ['1', '100', '10000'], refused: ['0', '10001', '50000', 'lots', '-1'] },
  rateLimitPerMin: { accepted: ['0', '1000000'], refused: ['1000001', 'lots', '-5'] },
  registry: {
    accepted: [
      '{"name":"reg-1","tier":"basic"}',
      '{"existing":true,"name":"r"}',
      '{"existing":"true","name":"r"}',
      '{}',
    ],
    refused: [
      'my-registry',
      '{"tier":"gold"}',
      '{"name":"Bad_Name"}',
      '{"nmae":"x"}',
      '{"existing":true}',
      '{"name":123}',
    ],
  },
  kubeconfig: {
    accepted: ['apiVersion: v1\nclusters: []\n', '{"clusters":[{"name":"c"}]}'],
    refused: ['~/.kube/config', 'apiVersion: v1\nusers: [{name: me, user: {token: s3cr3t}}]', 'clusters: [', ''],
  },
  image: {
    accepted: ['chat:dev', `registry.example.com:5000/team/chat@sha256:${DIGEST}`],
    refused: ['not an image', 'Chat:dev', 'chat@sha256:1234'],
  },
  redisPassword: {
    accepted: ['x'.repeat(16), `${'!~'.repeat(64)}`],
    refused: ['short pw', 'x'.repeat(15), 'x'.repeat(129), `${'x'.repeat(16)} y`],
  },
  domain: {
    accepted: ['chat.example.com', 'chat.eu.example.co.uk'],
    refused: ['Chat.Example.com', 'localhost', '203.0.113.10', '*.example.com', 'chat.example.com.'],
  },
  dnsZone: {
    with: { 'chat:domain': 'a.b.example.com' },
    accepted: ['example.com', 'b.example.com', 'a.b.example.com'],
    refused: ['example.org', 'xample.com', 'Example.com'],
  },
  restoreFrom: {
    with: { 'chat:persistence': 'true' },
    accepted: ['92b46522-4798-4544-9d33-8b74ea56adb7'],
    refused: ['123456789', '92B46522-4798-4544-9D33-8B74EA56ADB7', 'latest', ''],
  },
  redis: { accepted: ['pod', 'managed'], refused: ['valkey', 'Managed', ''] },
  redisSize: {
    with: { 'chat:redis': 'managed' },
    accepted: ['db-s-1vcpu-1gb', 'db-s-4vcpu-8gb'],
    refused: ['db-s-9vcpu-99gb', 's-1vcpu-1gb', ''],
  },
  redisStandby: {
    with: { 'chat:redis': 'managed', 'chat:redisSize': 'db-s-1vcpu-2gb' },
    accepted: ['true', 'false'],
    refused: ['yes', '1'],
  },
};

const STACK = 'stateless';
let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'settings-test-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** What the Pulumi program says of these settings: its problems, none when it accepts them. */
function programProblems(values: Record<string, string>): string[] {
  const chat = Object.fromEntries(Object.entries(values).map(([k, v]) => [k.replace(/^chat:/, ''), v]));
  try {
    loadConfig({
      raw: { get: (k) => chat[k], keys: () => Object.keys(chat) },
      stack: 'test',
      doToken: () => 'dop_v1_token',
    });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

/** What the local stack says of the same settings written into Pulumi.<stack>.yaml (each value a quoted YAML string). */
function localProblems(values: Record<string, string>): string[] {
  const lines = Object.entries(values).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  fs.writeFileSync(path.join(root, `Pulumi.${STACK}.yaml`), `config:\n${lines.join('\n')}\n`);
  try {
    readStackConfig(STACK, root);
    return [];
  } catch (err) {
    if (!(err instanceof StackConfigError)) throw err;
    return err.message.split('\n').map((line) => line.replace(`Pulumi.${STACK}.yaml: `, ''));
  }
}

/** What the service says of the value in its environment variable: undefined when it accepts it, else its message. */
function serviceRefusal(env: string, value: string): string | undefined {
  try {
    loadServiceConfig({ [env]: value });
    return undefined;
  } catch (err) {
    if (!(err instanceof ServiceConfigError)) throw err;
    return err.message;
  }
}

const rows = SETTING_KEYS.flatMap((key) => {
  const cases = CASES[key];
  const base: Record<string, string> = key === 'persistence' ? {} : { 'chat:persistence': 'false' };
  const settings = (value: string) => ({ ...base, ...cases.with, [`chat:${key}`]: value });
  const row = (value: string, accepted: boolean) => ({
    key,
    value,
    shown: JSON.stringify(value),
    verdict: accepted ? 'accepted' : 'refused',
    settings: settings(value),
    accepted,
  });
  return [...cases.accepted.map((v) => row(v, true)), ...cases.refused.map((v) => row(v, false))];
});

describe('every setting, as the local stack and the Pulumi program read it', () => {
  it('the table has accepted and refused values for every declared key', () => {
    expect(Object.keys(CASES)).toEqual(SETTING_KEYS);
    for (const key of SETTING_KEYS) {
      expect([key, CASES[key].accepted.length > 0, CASES[key].refused.length > 0]).toEqual([key, true, true]);
    }
  });

  it.each(rows)('chat:$key = $shown is $verdict by both', ({ key, value, settings, accepted }) => {
    const program = programProblems(settings);
    expect(localProblems(settings)).toEqual(program);
    if (accepted) {
      expect(program).toEqual([]);
      return;
    }
    expect(program).toEqual([expect.stringContaining(`chat:${key} must be `)]);
    const setting: Setting = SETTINGS[key];
    // A secret's value is never echoed.
    expect(program[0]).toMatch(setting.secret ? /^[^;]*$/ : `; got ${JSON.stringify(value)}`);
  });

  it.each(rows.filter((r) => (SETTINGS[r.key] as Setting).env !== undefined))(
    'chat:$key = $shown is $verdict by the service too, in its environment variable',
    ({ key, value, accepted }) => {
      const setting: Setting = SETTINGS[key];
      const refusal = serviceRefusal(setting.env!, value);
      if (accepted) expect(refusal).toBeUndefined();
      else expect(refusal).toContain(`${setting.env} must be ${setting.allowed}`);
    },
  );

  it('a required key left out: both name it and say what to set', () => {
    const program = programProblems({});
    expect(program).toEqual([expect.stringMatching(/^chat:persistence must be set: "false" for memory-only Redis/)]);
    expect(localProblems({})).toEqual(program);
  });

  it.each([
    [{ 'chat:minNodes': '4' }, /^chat:maxNodes must be set as well when chat:minNodes is set/],
    [{ 'chat:minNodes': '4', 'chat:maxNodes': '2' }, /^chat:minNodes must be at most chat:maxNodes \(2\); got "4"$/],
    [
      { 'chat:minNodes': '2', 'chat:maxNodes': '3', 'chat:nodeCount': '2' },
      /^chat:nodeCount must be unset when chat:minNodes and chat:maxNodes turn on autoscaling/,
    ],
    [{ 'chat:domain': 'example.com' }, /^chat:dnsZone must be set when chat:domain has only two labels/],
    [{ 'chat:dnsZone': 'example.com' }, /^chat:dnsZone must be set only together with chat:domain/],
  ])('settings read together, %j: both refuse them alike', (settings, message) => {
    const program = programProblems({ 'chat:persistence': 'false', ...settings });
    expect(program).toEqual([expect.stringMatching(message)]);
    expect(localProblems({ 'chat:persistence': 'false', ...settings })).toEqual(program);
  });

  it('several problems: both report all of them, in the same order', () => {
    const settings = {
      'chat:persistence': 'maybe',
      'chat:replicas': '3',
      'chat:historyLimit': '50000',
      'chat:minNodes': '4',
      'chat:dnsZone': 'example.com',
    };
    const program = programProblems(settings);
    expect(program).toHaveLength(5);
    expect(localProblems(settings)).toEqual(program);
  });
});
