/**
 * The options that change what is created: an existing cluster, a prebuilt image, a reused
 * registry, and the tunables of the cluster, Redis and the chat.
 */
import { loadConfig } from '../config';
import { chooseVersion, DEFAULT_POOL, pickVersion } from '../cluster';
import { createStack, instanceName } from '../stack';
import { FAKE_DIGEST, isSecretAt, liveClusters, optionsRecorder, Recorded, runProgram, T } from './harness';
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
    expect(r.one(T.image).inputs.imageName).toBe('registry.digitalocean.com/doks-chat-abc123/chat:latest');
    expect(chatContainer(r.one(T.deployment, 'chat-app-deployment')).image).toBe(
      `registry.digitalocean.com/doks-chat-abc123/chat@${FAKE_DIGEST}`,
    );
    expect(r.outputs.registryEndpoint).toBe('registry.digitalocean.com/doks-chat-abc123');
  });

  it('existing, as `pulumi config set --path` stores it (string "true")', async () => {
    const r = await run('stateless', { 'chat:registry': JSON.stringify({ name: 'shared-reg', existing: 'true' }) });
    expect(r.byType(T.registry)).toHaveLength(0);
    expect(r.one(T.image).inputs.imageName).toBe('registry.digitalocean.com/shared-reg/chat:latest');
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
    expect(r.one(T.image).inputs.imageName).toBe('registry.digitalocean.com/my-chat-registry/chat:latest');
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

  it('minNodes and maxNodes turn on autoscaling of the workers pool', async () => {
    const r = await run('stateless', { 'chat:minNodes': '2', 'chat:maxNodes': '5' });
    expect(r.one(T.nodePool, 'workers').inputs).toMatchObject({
      autoScale: true,
      minNodes: 2,
      maxNodes: 5,
    });
    // No count unless chat:nodeCount is set: DOKS keeps the pool's size between the bounds.
    expect(r.one(T.nodePool, 'workers').inputs.nodeCount).toBeUndefined();
    expect(r.one(T.cluster).inputs.nodePool).toMatchObject({ autoScale: false, nodeCount: 1 });
  });
});

describe('Redis and chat options', () => {
  it('appendfsync always reaches the stateful Redis command line', async () => {
    const r = await run('stateful', { 'chat:appendfsync': 'always' });
    expect(redisArgs(r).slice(0, 4)).toEqual(['--appendonly', 'yes', '--appendfsync', 'always']);
    expect(r.outputs.appendfsync).toBe('always');
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
    const templates = async (password: string) => {
      const r = await run('stateful', { 'chat:redisPassword': password });
      return ['redis-deployment', 'chat-app-deployment'].map((n) => r.one(T.deployment, n).inputs.spec.template);
    };
    const [redisA, chatA] = await templates('first-password-0123456789');
    const [redisB, chatB] = await templates('second-password-0123456789');
    const [redisA2, chatA2] = await templates('first-password-0123456789');
    // The Secret changes in place and env is read only at start: the template must differ.
    expect(redisA).not.toEqual(redisB);
    expect(chatA).not.toEqual(chatB);
    // The same password gives the same templates: no roll on every pulumi up.
    expect(redisA2).toEqual(redisA);
    expect(chatA2).toEqual(chatA);
    const key = 'doks-chat/redis-password-sha256';
    expect(redisA.metadata.annotations[key]).toMatch(/^[0-9a-f]{16}$/);
    expect(chatA.metadata.annotations[key]).toBe(redisA.metadata.annotations[key]);
    expect(JSON.stringify([redisA, chatA])).not.toContain('first-password');
  });

  it('the password digest annotation stays secret in the state, also when the password is generated', async () => {
    const r = await run('stateless', {});
    for (const n of ['redis-deployment', 'chat-app-deployment']) {
      const d = r.one(T.deployment, n);
      expect(d.inputs.spec.template.metadata.annotations['doks-chat/redis-password-sha256']).toMatch(/^[0-9a-f]{16}$/);
      expect(isSecretAt(d, 'spec.template.metadata.annotations.doks-chat/redis-password-sha256')).toBe(true);
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

  it("ignores the default pool's size, so a cluster created with another size there is never replaced for it", async () => {
    const { rec } = await recorded('stateless');
    expect(rec.of('cluster').type).toBe(T.cluster);
    expect(rec.of('cluster').ignoreChanges).toEqual(['nodePool.size']);
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
    expect(r.calls.map((c) => c.token)).toContain('digitalocean:index/getKubernetesCluster:getKubernetesCluster');
  });

  it('later pulumi ups keep the version the cluster runs, although DOKS offers newer patches', async () => {
    liveClusters.set('chat-stateless', { version: '1.33.2-do.0' });
    expect((await run('stateless', {})).one(T.cluster).inputs.version).toBe('1.33.2-do.0');
    expect((await run('stateless', { 'chat:kubernetesVersion': '1.33' })).one(T.cluster).inputs.version).toBe(
      '1.33.2-do.0',
    );
  });

  it('a chat:kubernetesVersion the running version does not match upgrades to its newest', async () => {
    liveClusters.set('chat-stateless', { version: '1.33.2-do.0' });
    expect((await run('stateless', { 'chat:kubernetesVersion': '1.34' })).one(T.cluster).inputs.version).toBe(
      '1.34.1-do.0',
    );
    expect((await run('stateless', { 'chat:kubernetesVersion': '1.33.5' })).one(T.cluster).inputs.version).toBe(
      '1.33.5-do.1',
    );
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
