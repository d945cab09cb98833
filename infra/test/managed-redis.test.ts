/**
 * `chat:redis managed` under the mocks: the history in DigitalOcean Managed Valkey, in the
 * DOKS cluster's VPC, reachable only from that cluster, never evicting, persisting as
 * chat:persistence says, and reached by the chat pods through a rediss:// URL in a Secret.
 */
import { loadConfig, ConfigError } from '../config';
import { MANAGED_PERSISTENCE_ENV } from '../managed-redis';
import { privateRedisUrl } from '../managed-valkey';
import { monthlyCost, PRICES } from '../prices';
import { previousOutputs as readPreviousOutputs } from '../previous-deployment';
import { previousMode, redisSwitchProblem, switchProblem } from '../redis-switch';
import { createStack } from '../stack';
import {
  FAKE_DB_PASSWORD,
  FAKE_DO_TOKEN,
  FAKE_VPC_UUID,
  isSecretAt,
  previousOutputs,
  runProgram,
  RunResult,
  T,
} from './harness';
import { validateK8sObject } from './k8s-schema';

const program = () => createStack(loadConfig()) as unknown as Record<string, unknown>;
const managed = (stack: string, more: Record<string, string | undefined> = {}) =>
  runProgram(stack, program, { 'chat:redis': 'managed', ...more });

const chatEnv = (r: RunResult): any[] =>
  r.one(T.deployment, 'chat-app-deployment').inputs.spec.template.spec.containers.find((c: any) => c.name === 'chat')
    .env;

describe.each([
  ['stateful', 'rdb'],
  ['stateless', 'off'],
])('stack %s with chat:redis managed', (stack, persistence) => {
  let r: RunResult;
  beforeAll(async () => {
    r = await managed(stack);
  });

  it('declares one Valkey DatabaseCluster in the DOKS cluster VPC, named, versioned, smallest size, one node', () => {
    const db = r.one(T.database).inputs;
    expect(db).toMatchObject({
      name: `chat-${stack}-valkey`,
      engine: 'valkey',
      version: '8',
      size: 'db-s-1vcpu-1gb',
      nodeCount: 1,
      region: 'nyc1',
      privateNetworkUuid: FAKE_VPC_UUID,
    });
    // The cluster itself names no VPC: the database follows whatever VPC the cluster is in.
    expect(r.one(T.cluster).inputs.vpcUuid).toBeUndefined();
  });

  it('lets only this Kubernetes cluster connect: one k8s rule with the cluster id', () => {
    const fw = r.one(T.databaseFirewall).inputs;
    expect(fw.clusterId).toBe('valkey-id');
    expect(fw.rules).toEqual([{ type: 'k8s', value: 'cluster-id' }]);
  });

  it(`sets noeviction, TLS and persistence ${persistence} through the Valkey config resource`, () => {
    const c = r.one(T.valkeyConfig).inputs;
    expect(c).toEqual({ clusterId: 'valkey-id', valkeyMaxmemoryPolicy: 'noeviction', persistence, ssl: true });
  });

  it('gives the chat pods REDIS_URL from a Secret whose value is rediss:// to the private host', () => {
    const env = chatEnv(r);
    const url = env.find((e) => e.name === 'REDIS_URL');
    expect(url.value).toBeUndefined();
    expect(url.valueFrom).toEqual({ secretKeyRef: { name: 'managed-redis-url', key: 'url' } });
    expect(env.find((e) => e.name === 'REDIS_PASSWORD')).toBeUndefined();
    expect(env.find((e) => e.name === MANAGED_PERSISTENCE_ENV)).toEqual({
      name: MANAGED_PERSISTENCE_ENV,
      value: persistence,
    });
    const secret = r.one(T.secret, 'managed-redis-url');
    const value: string = secret.inputs.stringData.url;
    expect(value).toBe(
      `rediss://default:${FAKE_DB_PASSWORD}@private-chat-${stack}-valkey-do-user-1.db.ondigitalocean.com:25061`,
    );
    expect(isSecretAt(secret, 'stringData.url')).toBe(true);
    // A new password rolls the chat pods: the template carries a digest of the URL, not the URL.
    const annotations = r.one(T.deployment, 'chat-app-deployment').inputs.spec.template.metadata.annotations;
    expect(Object.values(annotations).join(' ')).not.toContain(FAKE_DB_PASSWORD);
    expect(Object.values(annotations)[0]).toMatch(/^[0-9a-f]{16}$/);
  });

  it('declares no redis-deployment, redis-service, redis-pvc, redis-auth or Redis NetworkPolicy', () => {
    const names = r.k8sObjects().map((o) => `${o.kind}/${o.metadata.name}`);
    for (const gone of [
      'Deployment/redis-deployment',
      'Service/redis-service',
      'PersistentVolumeClaim/redis-pvc',
      'Secret/redis-auth',
      'NetworkPolicy/redis-allow-chat-app',
    ]) {
      expect(names).not.toContain(gone);
    }
    expect(r.byType(T.netpol)).toEqual([]);
    expect(r.byType(T.pvc)).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['Deployment/chat-app-deployment', 'Service/chat-app-lb']));
  });

  it('every Kubernetes object passes schema validation', () => {
    for (const o of r.k8sObjects()) expect(() => validateK8sObject(o)).not.toThrow();
  });

  it('makes no input of chat-app-deployment secret, so `pulumi preview --diff` shows its changes', () => {
    // As on the pod stacks (stacks.test.ts): a secret anywhere in the spec hides every change in a
    // preview. The rollout trigger is the URL's revision (random bytes kept by the URL), not a digest of it.
    expect(r.one(T.deployment, 'chat-app-deployment').secretPaths).toEqual([]);
    expect(r.one('random:index/randomId:RandomId', 'managed-redis-url-revision').secretPaths).toEqual(['keepers']);
  });

  it('reports the mode, the managed service and its monthly cost in the outputs', () => {
    expect(r.outputs.redis).toBe('managed');
    expect(r.outputs.persistence).toBe(persistence === 'rdb' ? 'rdb' : 'memory');
    expect(r.outputs.appendfsync).toBeNull();
    expect(r.outputs.redisCommand).toContain(`persistence ${persistence}`);
    const cost = r.outputs.monthlyCost as any;
    expect(cost.lines).toEqual(expect.arrayContaining([{ item: 'Managed Valkey db-s-1vcpu-1gb', usd: 15 }]));
    // No volume in managed mode.
    expect(cost.lines.find((l: any) => l.item.startsWith('volume'))).toBeUndefined();
    expect(cost.pricesReadOn).toBe(PRICES.readOn);
  });
});

describe('chat:redisSize and chat:redisStandby', () => {
  it('adds a standby node (node_count 2) on a size with 2 GB or more, and prices it', async () => {
    const r = await managed('stateful', { 'chat:redisSize': 'db-s-1vcpu-2gb', 'chat:redisStandby': 'true' });
    expect(r.one(T.database).inputs).toMatchObject({ size: 'db-s-1vcpu-2gb', nodeCount: 2 });
    const lines = (r.outputs.monthlyCost as any).lines;
    expect(lines).toEqual(
      expect.arrayContaining([
        { item: 'Managed Valkey db-s-1vcpu-2gb', usd: 30 },
        { item: 'Managed Valkey standby db-s-1vcpu-2gb', usd: 30 },
      ]),
    );
  });
});

describe('bad configuration names the key', () => {
  const load = (raw: Record<string, string>) =>
    loadConfig({
      raw: { get: (k) => raw[k], keys: () => Object.keys(raw) },
      stack: 't',
      doToken: () => FAKE_DO_TOKEN,
    });
  const problems = (raw: Record<string, string>): string[] => {
    try {
      load(raw);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('a standby on the 1 GB size', () => {
    expect(problems({ persistence: 'true', redis: 'managed', redisStandby: 'true' })).toEqual([
      expect.stringMatching(/^chat:redisStandby must be "false" for chat:redisSize db-s-1vcpu-1gb: .*2 GB of RAM/),
    ]);
  });
  it('managed on an existing cluster (chat:kubeconfig)', () => {
    expect(problems({ persistence: 'true', redis: 'managed', kubeconfig: 'apiVersion: v1\nclusters: []\n' })).toEqual([
      expect.stringMatching(/^chat:redis must be "pod" with chat:kubeconfig/),
    ]);
  });
  it('a region without Managed Databases', () => {
    expect(problems({ persistence: 'true', redis: 'managed', region: 'nyc2' })).toEqual([
      expect.stringMatching(/^chat:region must be a region with DigitalOcean Managed Databases .*got "nyc2"/),
    ]);
    // The pod runs wherever the cluster does.
    expect(problems({ persistence: 'true', region: 'nyc2' })).toEqual([]);
  });
  it('an unknown mode or size, and managed-only keys without managed', () => {
    expect(problems({ persistence: 'true', redis: 'valkey' })).toEqual([
      'chat:redis must be one of pod, managed; got "valkey"',
    ]);
    expect(problems({ persistence: 'true', redis: 'managed', redisSize: 'db-s-9vcpu-99gb' })).toEqual([
      expect.stringMatching(/^chat:redisSize must be one of db-s-1vcpu-1gb, .*got "db-s-9vcpu-99gb"/),
    ]);
    expect(problems({ persistence: 'true', redisSize: 'db-s-1vcpu-2gb', redisStandby: 'true' })).toEqual([
      'chat:redisSize must be set only with chat:redis managed (the pod has no database size)',
      'chat:redisStandby must be set only with chat:redis managed (the pod has no standby)',
    ]);
  });
});

describe('switching an existing stack between pod and managed is refused', () => {
  afterEach(() => previousOutputs.clear());

  it('decides from the last outputs; stacks from before chat:redis ran the pod', () => {
    expect(previousMode({})).toBeUndefined();
    expect(previousMode({ persistence: 'aof' })).toBe('pod');
    expect(previousMode({ redis: 'managed', persistence: 'rdb' })).toBe('managed');
    expect(switchProblem(undefined, 'managed')).toBeUndefined();
    expect(switchProblem('managed', 'managed')).toBeUndefined();
    expect(switchProblem('pod', 'managed')).toMatch(/^chat:redis must stay "pod" on this stack: .*DUMP\/RESTORE/);
    expect(switchProblem('managed', 'pod')).toMatch(/^chat:redis must stay "managed"/);
  });

  it('a stateful stack that ran the pod stops with that message, under the mocks', async () => {
    previousOutputs.set('organization/chat/stateful', { persistence: 'aof', url: 'http://203.0.113.10' });
    const r = await runProgram('stateful', () => ({ problem: redisSwitchProblem('managed', readPreviousOutputs()) }));
    expect(r.one(T.stackReference).inputs.name).toBe('organization/chat/stateful');
    expect(r.outputs.problem).toMatch(/^chat:redis must stay "pod" on this stack/);
  });

  it('a stack that already runs managed deploys again', async () => {
    previousOutputs.set('organization/chat/stateful', { persistence: 'rdb', redis: 'managed' });
    const r = await managed('stateful');
    expect(r.outputs.redis).toBe('managed');
  });
});

describe('the price table', () => {
  it('prices the default stateful stack as the README says (about $60/month)', () => {
    const c = monthlyCost({
      nodes: [
        { size: 's-1vcpu-2gb', count: 1 },
        { size: 's-2vcpu-2gb', count: 2 },
      ],
      highAvailability: false,
      loadBalancers: 1,
      volumeGiB: 1,
      registryTier: 'starter',
    });
    expect(c.usd).toBe(60.1);
    expect(c.unpriced).toEqual([]);
  });
  it('says what it could not price', () => {
    const c = monthlyCost({
      nodes: [{ size: 'g-8vcpu-32gb', count: 1 }],
      highAvailability: false,
      loadBalancers: 0,
      volumeGiB: 0,
    });
    expect(c.unpriced).toEqual(['node g-8vcpu-32gb']);
  });
  it('accepts only a rediss:// private URI', () => {
    expect(privateRedisUrl('rediss://default:pw@private-h:25061')).toBe('rediss://default:pw@private-h:25061');
    expect(() => privateRedisUrl('redis://default:pw@private-h:25061')).toThrow(/only over TLS/);
  });
});
