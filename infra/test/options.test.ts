/**
 * The options that change what is created: an existing cluster, a prebuilt image, a reused
 * registry, and the tunables of the cluster, Redis and the chat.
 */
import { loadConfig } from '../config';
import {
  chooseVersion,
  DEFAULT_POOL,
  DEFAULT_POOL_IGNORED_FIELDS,
  pickVersion,
  requiredStep,
  runningCluster,
} from '../cluster';
import { DigitalOceanApi } from '../digitalocean-api';
import { REDIS_PASSWORD_ANNOTATION } from '../k8s-common';
import { createStack, instanceName } from '../stack';
import {
  apiRequests,
  FAKE_API_PAGE_SIZE,
  FAKE_DIGEST,
  isSecretAt,
  liveClusters,
  optionsRecorder,
  Recorded,
  runProgram,
  stashes,
  T,
} from './harness';
import { validateK8sObject } from './k8s-schema';
import { podSpecsOf, restrictedViolations } from './pss';

const VERSIONS = 'digitalocean:index/getKubernetesVersions:getKubernetesVersions';
const GET_REGISTRY = 'digitalocean:index/getContainerRegistry:getContainerRegistry';

const KIND_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: kind-chat
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Zm9v
contexts:
- name: kind-chat
  context: { cluster: kind-chat, user: kind-chat }
current-context: kind-chat
users:
- name: kind-chat
  user: { token: abc }
`;

const run = (stack: string, overrides: Record<string, string | undefined>) =>
  runProgram(stack, () => createStack(loadConfig()) as unknown as Record<string, unknown>, overrides);

const chatContainer = (d: Recorded) => d.inputs.spec.template.spec.containers[0];
const redisArgs = (r: { one(t: string, n?: string): Recorded }) =>
  r.one(T.deployment, 'redis-deployment').inputs.spec.template.spec.containers[0].args as string[];

describe('chat:kubeconfig: deploy onto an existing cluster', () => {
  it('creates no cluster and reaches the given one, without a DigitalOcean token', async () => {
    const r = await run('stateful', { 'chat:kubeconfig': KIND_KUBECONFIG, 'digitalocean:token': undefined });
    expect(r.byType(T.cluster)).toHaveLength(0);
    expect(r.calls.map((c) => c.token)).not.toContain(VERSIONS);
    const provider = r.one(T.provider, 'k8s');
    expect(provider.inputs.kubeconfig).toBe(KIND_KUBECONFIG);
    expect(isSecretAt(provider, 'kubeconfig')).toBe(true);
    expect(r.outputs.kubeconfig).toBe(KIND_KUBECONFIG);
    expect(r.secretOutputs).toContain('kubeconfig');
    expect(r.outputs.clusterName).toBe('kind-chat');
    // The same objects as on DOKS.
    expect(r.one(T.pvc, 'redis-pvc')).toBeDefined();
    expect(r.one(T.deployment, 'chat-app-deployment')).toBeDefined();
  });

  it('still builds and pushes the image when chat:image is not set', async () => {
    const r = await run('stateless', { 'chat:kubeconfig': KIND_KUBECONFIG });
    expect(r.byType(T.cluster)).toHaveLength(0);
    expect(r.byType(T.image)).toHaveLength(1);
    expect(r.byType(T.registry)).toHaveLength(1);
  });
});

describe('chat:image: a prebuilt image', () => {
  it('builds nothing and creates no registry or registry credentials', async () => {
    const r = await run('stateless', { 'chat:image': 'ghcr.io/example/chat:1.2.3' });
    expect(r.byType(T.image)).toHaveLength(0);
    expect(r.byType(T.registry)).toHaveLength(0);
    expect(r.byType(T.credentials)).toHaveLength(0);
    expect(r.calls.map((c) => c.token)).not.toContain(GET_REGISTRY);
    expect(r.byType(T.secret).map((s) => s.name)).toEqual(['redis-auth']);
    const chat = r.one(T.deployment, 'chat-app-deployment');
    expect(chatContainer(chat).image).toBe('ghcr.io/example/chat:1.2.3');
    expect(chat.inputs.spec.template.spec.imagePullSecrets ?? []).toEqual([]);
    expect(r.outputs.image).toBe('ghcr.io/example/chat:1.2.3');
    expect(r.outputs.registryEndpoint).toBeNull();
  });

  it('with chat:kubeconfig too, touches no DigitalOcean resource at all', async () => {
    const r = await run('stateful', {
      'chat:kubeconfig': KIND_KUBECONFIG,
      'chat:image': 'chat:dev',
      'chat:storageClass': 'standard',
      'digitalocean:token': undefined,
    });
    expect(r.resources.filter((x) => /^(digitalocean|docker):/.test(x.type))).toEqual([]);
    expect(r.calls).toEqual([]);
    expect(r.one(T.pvc, 'redis-pvc').inputs.spec.storageClassName).toBe('standard');
    for (const o of r.k8sObjects()) expect(() => validateK8sObject(o)).not.toThrow();
    for (const p of r.k8sObjects().flatMap(podSpecsOf)) expect(restrictedViolations(p.spec)).toEqual([]);
  });
});

describe('chat:registry', () => {
  it('existing: pushes to the named registry of the account and creates none', async () => {
    const r = await run('stateful', { 'chat:registry': JSON.stringify({ name: 'doks-chat-abc123', existing: true }) });
    expect(r.byType(T.registry)).toHaveLength(0);
    expect(r.calls.find((c) => c.token === GET_REGISTRY)?.inputs).toEqual({ name: 'doks-chat-abc123' });
    expect(r.byType(T.credentials).map((c) => c.inputs.registryName)).toEqual(['doks-chat-abc123', 'doks-chat-abc123']);
    expect(r.one(T.image).inputs.imageName).toBe('registry.digitalocean.com/doks-chat-abc123/chat:chat-stateful');
    expect(chatContainer(r.one(T.deployment, 'chat-app-deployment')).image).toBe(
      `registry.digitalocean.com/doks-chat-abc123/chat@${FAKE_DIGEST}`,
    );
    expect(r.outputs.registryEndpoint).toBe('registry.digitalocean.com/doks-chat-abc123');
  });

  it('existing, as `pulumi config set --path` stores it (string "true")', async () => {
    const r = await run('stateless', { 'chat:registry': JSON.stringify({ name: 'shared-reg', existing: 'true' }) });
    expect(r.byType(T.registry)).toHaveLength(0);
    expect(r.one(T.image).inputs.imageName).toBe('registry.digitalocean.com/shared-reg/chat:chat-stateless');
  });

  it('a new registry name or region deletes the old registry before creating the new one', async () => {
    // Both are ForceNew, and Starter/Basic allow one registry per account: create-then-delete fails.
    const rec = optionsRecorder();
    await runProgram(
      'stateless',
      () => createStack(loadConfig(), { transformations: [rec.transformation] }) as unknown as Record<string, unknown>,
      { 'chat:registry': JSON.stringify({ name: 'my-chat-registry', region: 'fra1' }) },
    );
    expect(rec.of('registry').type).toBe(T.registry);
    expect(rec.of('registry').deleteBeforeReplace).toBe(true);
  });

  it('create: uses the given name, tier and region, and no random suffix', async () => {
    const r = await run('stateless', {
      'chat:registry': JSON.stringify({ name: 'my-chat-registry', tier: 'basic', region: 'fra1' }),
    });
    expect(r.one(T.registry).inputs).toMatchObject({
      name: 'my-chat-registry',
      subscriptionTierSlug: 'basic',
      region: 'fra1',
    });
    expect(r.one(T.image).inputs.imageName).toBe('registry.digitalocean.com/my-chat-registry/chat:chat-stateless');
    expect(r.byType('random:index/randomString:RandomString')).toHaveLength(0);
  });
});

describe('cluster options', () => {
  it('kubernetesVersion picks the latest version with that prefix', async () => {
    const r = await run('stateless', { 'chat:kubernetesVersion': '1.33' });
    expect(r.calls.filter((c) => c.token === VERSIONS)).toHaveLength(1);
    expect(r.one(T.cluster).inputs.version).toBe('1.33.5-do.1');
  });

  it('pickVersion: newest match on a version boundary, else an error listing what exists', () => {
    const offered = ['1.32.9-do.2', '1.33.10-do.0', '1.33.9-do.3', '1.34.1-do.0'];
    expect(pickVersion(undefined, offered, '1.34.1-do.0')).toBe('1.34.1-do.0');
    expect(pickVersion('1.33', offered, '1.34.1-do.0')).toBe('1.33.10-do.0');
    expect(pickVersion('1.33.9', offered, '1.34.1-do.0')).toBe('1.33.9-do.3');
    expect(pickVersion('1', offered, '1.34.1-do.0')).toBe('1.34.1-do.0');
    expect(() => pickVersion('1.3', offered, '1.34.1-do.0')).toThrow(
      /chat:kubernetesVersion "1.3" matches no DOKS version; DigitalOcean offers 1.32.9-do.2, 1.33.10-do.0/,
    );
  });

  it('names the cluster after the stack in a form DigitalOcean and Kubernetes accept', () => {
    expect(instanceName('stateful')).toBe('chat-stateful');
    expect(instanceName('Dev_Stack.2')).toBe('chat-dev-stack-2');
    expect(instanceName('x'.repeat(100))).toMatch(/^chat-x+$/);
    expect(instanceName('x'.repeat(100)).length).toBeLessThanOrEqual(63);
  });

  it('region and high availability reach the cluster; node size and count reach the workers pool', async () => {
    const r = await run('stateless', {
      'chat:region': 'ams3',
      'chat:nodeSize': 's-2vcpu-4gb',
      'chat:nodeCount': '3',
      'chat:highAvailability': 'true',
    });
    expect(r.one(T.cluster).inputs).toMatchObject({ region: 'ams3', ha: true });
    expect(r.one(T.nodePool, 'workers').inputs).toMatchObject({
      clusterId: 'cluster-id',
      name: 'workers-s-2vcpu-4gb',
      size: 's-2vcpu-4gb',
      nodeCount: 3,
      autoScale: false,
    });
  });

  it('minNodes and maxNodes turn on autoscaling of the workers pool, which then sends no node count', async () => {
    const r = await run('stateless', { 'chat:minNodes': '2', 'chat:maxNodes': '5' });
    const pool = r.one(T.nodePool, 'workers').inputs;
    expect(pool).toMatchObject({ autoScale: true, minNodes: 2, maxNodes: 5 });
    // The provider sends a set node_count on every update of the pool
    // (resource_kubernetes_node_pool.go), which would reset the autoscaler's size: none at all.
    // A new pool starts at minNodes.
    expect(pool).not.toHaveProperty('nodeCount');
    expect(r.one(T.cluster).inputs.nodePool).toMatchObject({ autoScale: false, nodeCount: 1 });
  });
});

describe('Redis and chat options', () => {
  it('appendfsync always reaches the stateful Redis command line', async () => {
    const r = await run('stateful', { 'chat:appendfsync': 'always' });
    expect(redisArgs(r).slice(0, 4)).toEqual(['--appendonly', 'yes', '--appendfsync', 'always']);
    expect(r.outputs.appendfsync).toBe('always');
  });

  it('a chat:storageClass change on a stack that has redis-pvc is refused, naming both classes', async () => {
    const first = await runProgram('stateful', () => createStack(loadConfig()) as unknown as Record<string, unknown>);
    expect(first.one(T.pvc, 'redis-pvc').inputs.spec.storageClassName).toBe('do-block-storage');
    // The class the claim was created with is in the stack's state.
    expect(first.one('pulumi:index:Stash', 'redis-pvc-storage-class').inputs).toEqual({ input: 'do-block-storage' });
    expect(stashes.get('redis-pvc-storage-class')).toBe('do-block-storage');
    const changed = runProgram(
      'stateful',
      () => createStack(loadConfig()) as unknown as Record<string, unknown>,
      { 'chat:storageClass': 'do-block-storage-retain' },
      { keepState: true },
    );
    await expect(changed).rejects.toThrow(
      /chat:storageClass is "do-block-storage-retain", but redis-pvc was created with "do-block-storage"/,
    );
    await expect(changed).rejects.toThrow(/pulumi config set chat:storageClass do-block-storage`/);
    // The same class again goes through, on the same state.
    const same = await runProgram(
      'stateful',
      () => createStack(loadConfig()) as unknown as Record<string, unknown>,
      {},
      { keepState: true },
    );
    expect(same.one(T.pvc, 'redis-pvc').inputs.spec.storageClassName).toBe('do-block-storage');
  });

  it('the record of the class is protected with the claim, and the claim depends on it', async () => {
    const rec = optionsRecorder();
    await runProgram(
      'stateful',
      () => createStack(loadConfig(), { transformations: [rec.transformation] }) as unknown as Record<string, unknown>,
    );
    expect(rec.of('redis-pvc-storage-class').protect).toBe(true);
    expect(rec.of('redis-pvc').dependsOn).toEqual(['redis-pvc-storage-class']);
  });

  it('storage class and size reach the volume claim', async () => {
    const r = await run('stateful', { 'chat:storageClass': 'do-block-storage-retain', 'chat:redisStorageSize': '5Gi' });
    expect(r.one(T.pvc, 'redis-pvc').inputs.spec).toMatchObject({
      storageClassName: 'do-block-storage-retain',
      resources: { requests: { storage: '5Gi' } },
    });
  });

  it('a given Redis password is used as is and none is generated', async () => {
    const r = await run('stateless', { 'chat:redisPassword': 'a-long-given-password-42' });
    expect(r.byType('random:index/randomPassword:RandomPassword')).toHaveLength(0);
    const secret = r.one(T.secret, 'redis-auth');
    expect(secret.inputs.stringData.password).toBe('a-long-given-password-42');
    expect(isSecretAt(secret, 'stringData.password')).toBe(true);
  });

  it('a new chat:redisPassword changes the pod template of both Deployments, so both roll', async () => {
    // One stack, three runs: its state (the RandomId's bytes) carries over.
    const templates = async (password: string, keepState = true) => {
      const r = await runProgram(
        'stateful',
        () => createStack(loadConfig()) as unknown as Record<string, unknown>,
        { 'chat:redisPassword': password },
        { keepState },
      );
      return ['redis-deployment', 'chat-app-deployment'].map((n) => r.one(T.deployment, n).inputs.spec.template);
    };
    const [redisA, chatA] = await templates('first-password-0123456789', false);
    const [redisB, chatB] = await templates('second-password-0123456789');
    const [redisB2, chatB2] = await templates('second-password-0123456789');
    // The Secret changes in place and env is read only at start: the template must differ.
    expect(redisA).not.toEqual(redisB);
    expect(chatA).not.toEqual(chatB);
    // The same password gives the same templates: no roll on every pulumi up.
    expect(redisB2).toEqual(redisB);
    expect(chatB2).toEqual(chatB);
    expect(redisA.metadata.annotations[REDIS_PASSWORD_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
    expect(chatA.metadata.annotations[REDIS_PASSWORD_ANNOTATION]).toBe(
      redisA.metadata.annotations[REDIS_PASSWORD_ANNOTATION],
    );
    expect(JSON.stringify([redisA, chatA])).not.toContain('first-password');
  });

  it('nothing in a pod template is derived from the password: another stack with the same password differs', async () => {
    const annotation = async () => {
      const r = await run('stateful', { 'chat:redisPassword': 'the-same-password-0123456789' });
      const d = r.one(T.deployment, 'redis-deployment');
      // The value is the RandomId's, whose only tie to the password is its keeper.
      const id = r.one('random:index/randomId:RandomId', 'redis-password-revision');
      expect(id.inputs).toMatchObject({ byteLength: 8, keepers: { redisPassword: 'the-same-password-0123456789' } });
      expect(isSecretAt(id, 'keepers.redisPassword')).toBe(true);
      return d.inputs.spec.template.metadata.annotations[REDIS_PASSWORD_ANNOTATION] as string;
    };
    // Two fresh stacks (run resets the state): same password, different random revisions. A
    // digest of the password, salted or not, would be equal here.
    expect(await annotation()).not.toBe(await annotation());
  });

  it('the revision annotation is not secret, so no Deployment spec is, also when the password is generated', async () => {
    for (const overrides of [{}, { 'chat:redisPassword': 'a-long-given-password-42' }]) {
      const r = await run('stateless', overrides);
      for (const n of ['redis-deployment', 'chat-app-deployment']) {
        const d = r.one(T.deployment, n);
        expect(d.inputs.spec.template.metadata.annotations[REDIS_PASSWORD_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
        expect(d.secretPaths).toEqual([]);
      }
    }
  });

  it('replicas, history limit and rate limit reach the chat deployment', async () => {
    const r = await run('stateless', {
      'chat:appReplicas': '3',
      'chat:historyLimit': '250',
      'chat:rateLimitPerMin': '0',
    });
    const chat = r.one(T.deployment, 'chat-app-deployment');
    expect(chat.inputs.spec.replicas).toBe(3);
    const env = Object.fromEntries(chatContainer(chat).env.map((e: any) => [e.name, e.value]));
    expect(env.HISTORY_LIMIT).toBe('250');
    expect(env.RATE_LIMIT_PER_MIN).toBe('0');
  });
});

/**
 * What a config change would replace, as the DigitalOcean provider decides it (ForceNew
 * fields in digitalocean/terraform-provider-digitalocean), and how the program keeps a
 * replacement or a deletion of the data from happening unasked.
 */
describe('config changes that the provider would turn into a new cluster', () => {
  const recorded = async (stack: string, overrides: Record<string, string | undefined> = {}) => {
    const rec = optionsRecorder();
    const r = await runProgram(
      stack,
      () => createStack(loadConfig(), { transformations: [rec.transformation] }) as unknown as Record<string, unknown>,
      overrides,
    );
    return { r, rec };
  };
  afterEach(() => liveClusters.clear());

  it('a different chat:nodeSize leaves the cluster as it is and changes only the workers pool', async () => {
    const small = await run('stateful', { 'chat:nodeSize': 's-2vcpu-2gb' });
    const large = await run('stateful', { 'chat:nodeSize': 's-4vcpu-8gb' });
    // The default pool's size is ForceNew on the cluster: it never follows chat:nodeSize.
    expect(large.one(T.cluster).inputs).toEqual(small.one(T.cluster).inputs);
    expect(small.one(T.cluster).inputs.nodePool).toMatchObject({ size: DEFAULT_POOL.size, nodeCount: 1 });
    expect(large.one(T.nodePool, 'workers').inputs).toMatchObject({ size: 's-4vcpu-8gb', name: 'workers-s-4vcpu-8gb' });
    expect(small.one(T.nodePool, 'workers').inputs.name).not.toBe(large.one(T.nodePool, 'workers').inputs.name);
  });

  it("ignores every default-pool field it no longer manages, so an older cluster's pool is never resized or replaced", async () => {
    const { rec } = await recorded('stateless');
    expect(rec.of('cluster').type).toBe(T.cluster);
    // A cluster created before the workers pool has a default pool "<name>-pool" of
    // chat:nodeSize × chat:nodeCount, perhaps autoscaled: the provider would update it in the
    // cluster's update, before the workers pool exists.
    expect(rec.of('cluster').ignoreChanges).toEqual([
      'nodePool.name',
      'nodePool.size',
      'nodePool.nodeCount',
      'nodePool.autoScale',
      'nodePool.minNodes',
      'nodePool.maxNodes',
    ]);
    expect(DEFAULT_POOL_IGNORED_FIELDS).toEqual(rec.of('cluster').ignoreChanges);
  });

  it('names autoUpgrade explicitly: DOKS moves the version only when chat:kubernetesVersion says so', async () => {
    const r = await run('stateless', {});
    expect(r.one(T.cluster).inputs.autoUpgrade).toBe(false);
    expect(r.one(T.cluster).inputs.destroyAllAssociatedResources).toBe(true);
  });

  it('a stateful stack protects the cluster and the volume claim; a stateless one protects nothing', async () => {
    const stateful = await recorded('stateful');
    expect(stateful.rec.of('cluster').protect).toBe(true);
    expect(stateful.rec.of('redis-pvc').protect).toBe(true);
    const stateless = await recorded('stateless');
    expect(stateless.rec.of('cluster').protect).toBe(false);
    expect([...stateless.rec.byName.values()].filter((o) => o.protect)).toEqual([]);
    // The switch back to memory-only says how to lift the protection it would otherwise hit.
    expect((stateful.r.outputs.experiment as Record<string, string>).switch).toMatch(
      /^pulumi state unprotect --all --yes && /,
    );
  });

  it('Kubernetes objects wait for the workers pool (and go before it on destroy)', async () => {
    const { rec } = await recorded('stateless');
    expect(rec.of('k8s').dependsOn).toEqual(['workers']);
  });

  it('first pulumi up: the newest version (or the newest with the prefix)', async () => {
    const r = await run('stateless', {});
    expect(r.one(T.cluster).inputs.version).toBe('1.34.1-do.0');
    // The running version comes from a complete listing of the account's clusters.
    expect(apiRequests.some((q) => q.startsWith('/v2/kubernetes/clusters'))).toBe(true);
  });

  it('later pulumi ups keep the version the cluster runs, although DOKS offers newer patches', async () => {
    liveClusters.set('chat-stateless', { version: '1.33.2-do.0' });
    expect((await run('stateless', {})).one(T.cluster).inputs.version).toBe('1.33.2-do.0');
    expect((await run('stateless', { 'chat:kubernetesVersion': '1.33' })).one(T.cluster).inputs.version).toBe(
      '1.33.2-do.0',
    );
  });

  it('finds its own cluster on any page of a long list, so it never takes it for a new one', async () => {
    // 45 clusters before this stack's: three pages of the fake API; the getKubernetesCluster
    // data source would have seen the first only and sent the latest version.
    for (let i = 0; i < 45; i++) liveClusters.set(`other-${i}`, { version: '1.34.1-do.0' });
    liveClusters.set('chat-stateless', { version: '1.32.9-do.2' });
    apiRequests.length = 0;
    const r = await run('stateless', {});
    expect(r.one(T.cluster).inputs.version).toBe('1.32.9-do.2');
    const pages = apiRequests.filter((q) => q.startsWith('/v2/kubernetes/clusters'));
    expect(pages.length).toBe(Math.ceil(46 / FAKE_API_PAGE_SIZE));
  });

  it('a chat:kubernetesVersion the running version does not match upgrades to its newest, one valid step at a time', async () => {
    // From the newest patch of 1.33, the next minor.
    liveClusters.set('chat-stateless', { version: '1.33.5-do.1' });
    expect((await run('stateless', { 'chat:kubernetesVersion': '1.34' })).one(T.cluster).inputs.version).toBe(
      '1.34.1-do.0',
    );
    // Within the minor, any newer patch.
    liveClusters.set('chat-stateless', { version: '1.33.2-do.0' });
    expect((await run('stateless', { 'chat:kubernetesVersion': '1.33.5' })).one(T.cluster).inputs.version).toBe(
      '1.33.5-do.1',
    );
  });

  it('a minor upgrade from an older patch is refused before anything is declared, naming the patch to take first', async () => {
    liveClusters.set('chat-stateless', { version: '1.33.2-do.0' });
    let declared = 0;
    const r = runProgram(
      'stateless',
      () => {
        const stack = createStack(loadConfig());
        declared++;
        return stack as unknown as Record<string, unknown>;
      },
      { 'chat:kubernetesVersion': '1.34' },
    );
    await expect(r).rejects.toThrow(/the cluster runs 1\.33\.2-do\.0/);
    await expect(r).rejects.toThrow(/pulumi config set chat:kubernetesVersion 1\.33\.5-do\.1 && pulumi up/);
    await expect(r).rejects.toThrow(/pulumi config set chat:kubernetesVersion 1\.34 && pulumi up/);
    expect(declared).toBe(1);
  });

  it('requiredStep: the newest patch of the running minor first, then one minor at a time', () => {
    const offered = ['1.34.1-do.0', '1.33.5-do.1', '1.33.4-do.0', '1.32.9-do.2', '1.32.3-do.0'];
    // A prefix one minor up from a running version that is not the latest patch names that patch.
    expect(requiredStep('1.33.2-do.0', '1.34.1-do.0', offered)).toBe('1.33.5-do.1');
    expect(requiredStep('1.33.5-do.0', '1.34.1-do.0', offered)).toBe('1.33.5-do.1');
    // From the latest patch, the next minor is a valid step.
    expect(requiredStep('1.33.5-do.1', '1.34.1-do.0', offered)).toBeUndefined();
    // Two minors up: the latest patch first, then the next minor.
    expect(requiredStep('1.32.3-do.0', '1.34.1-do.0', offered)).toBe('1.32.9-do.2');
    expect(requiredStep('1.32.9-do.2', '1.34.1-do.0', offered)).toBe('1.33.5-do.1');
    // Patch upgrades within the minor are always valid steps.
    expect(requiredStep('1.33.2-do.0', '1.33.5-do.1', offered)).toBeUndefined();
    // A minor DOKS no longer offers: its newest patch is unknown here, the API decides.
    expect(requiredStep('1.31.4-do.0', '1.32.9-do.2', offered)).toBeUndefined();
  });

  it('runningCluster: pages to the end of the list, and refuses when it cannot be sure it saw every cluster', async () => {
    const pages: Record<string, unknown> = {
      '/v2/kubernetes/clusters?per_page=200&page=1': {
        kubernetes_clusters: [{ id: 'a', name: 'a', version: '1.34.1-do.0' }],
        links: { pages: { next: 'https://api.example/v2/kubernetes/clusters?page=2&per_page=1' } },
        meta: { total: 3 },
      },
      'https://api.example/v2/kubernetes/clusters?page=2&per_page=1': {
        kubernetes_clusters: [{ id: 'b', name: 'b', version: '1.33.5-do.1' }],
        links: { pages: { next: 'https://api.example/v2/kubernetes/clusters?page=3&per_page=1' } },
        meta: { total: 3 },
      },
      'https://api.example/v2/kubernetes/clusters?page=3&per_page=1': {
        kubernetes_clusters: [{ id: 'mine-id', name: 'chat-x', version: '1.32.9-do.2' }],
        links: {},
        meta: { total: 3 },
      },
    };
    const api = (answers: Record<string, unknown>): DigitalOceanApi => ({
      get: async (q) => {
        if (!(q in answers)) throw new Error(`unexpected GET ${q}`);
        return answers[q];
      },
    });
    // The stack's own cluster on the last page: found, not "no cluster yet".
    expect(await runningCluster('chat-x', api(pages))).toEqual({ id: 'mine-id', version: '1.32.9-do.2' });
    // Truly absent after every page: none.
    expect(await runningCluster('chat-y', api(pages))).toBeUndefined();
    // A list that ends short of the total it reports is not taken for complete.
    const short = { ...pages };
    (short['https://api.example/v2/kubernetes/clusters?page=2&per_page=1'] as any) = {
      kubernetes_clusters: [{ id: 'b', name: 'b', version: '1.33.5-do.1' }],
      links: {},
      meta: { total: 3 },
    };
    await expect(runningCluster('chat-x', api(short))).rejects.toThrow(/listed 2 of the 3 it reports/);
    // Two clusters of its name: ambiguous, refused.
    const twice = {
      '/v2/kubernetes/clusters?per_page=200&page=1': {
        kubernetes_clusters: [
          { id: 'one', name: 'chat-x', version: '1.33.5-do.1' },
          { id: 'two', name: 'chat-x', version: '1.32.9-do.2' },
        ],
        meta: { total: 2 },
      },
    };
    await expect(runningCluster('chat-x', api(twice))).rejects.toThrow(/2 Kubernetes clusters named chat-x/);
    // An API error is not "no cluster".
    await expect(
      runningCluster('chat-x', {
        get: async () => {
          throw new Error('DigitalOcean API GET /v2/kubernetes/clusters answered 401');
        },
      }),
    ).rejects.toThrow(/401/);
  });

  it('chooseVersion refuses a version older than the running one (the provider would replace the cluster)', () => {
    const offered = ['1.34.1-do.0', '1.33.5-do.1', '1.32.9-do.2'];
    expect(chooseVersion(undefined, offered, '1.34.1-do.0', undefined)).toBe('1.34.1-do.0');
    expect(chooseVersion(undefined, offered, '1.34.1-do.0', '1.32.9-do.2')).toBe('1.32.9-do.2');
    expect(chooseVersion('1.32', offered, '1.34.1-do.0', '1.32.1-do.0')).toBe('1.32.1-do.0');
    expect(chooseVersion('1.34', offered, '1.34.1-do.0', '1.33.5-do.1')).toBe('1.34.1-do.0');
    expect(() => chooseVersion('1.32', offered, '1.34.1-do.0', '1.33.5-do.1')).toThrow(
      /chat:kubernetesVersion "1\.32" means 1\.32\.9-do\.2, older than the 1\.33\.5-do\.1 the cluster runs\. DOKS cannot downgrade/,
    );
  });
});
