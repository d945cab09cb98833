/**
 * `pulumi up -s stateless` and `pulumi up -s stateful`, as declared against mocks with the
 * real stack files: what would be created, with which names, and how it is configured.
 */
import { loadConfig as loadServiceConfig } from '../../app/src/config';
import { MAX_OLD_SPACE_MB } from '../../app/src/node-flags';
import { CONFIG_DEFAULTS as SERVICE_DEFAULTS } from '../../app/src/config';
import { DRAIN_SECONDS, healthCheckWindowSeconds, PRE_STOP_SECONDS, TERMINATION_GRACE_SECONDS } from '../chat-app';
import { KUBECONFIG_EXPIRE_SECONDS, WORKERS_LABEL } from '../cluster';
import { loadConfig } from '../config';
import { redisLaunch, redisPlan } from '../persistence';
import { createStack } from '../stack';
import { FAKE_DIGEST, FAKE_DO_TOKEN, FAKE_LB_IP, isSecretAt, Recorded, runProgram, RunResult, T } from './harness';
import { validateK8sObject } from './k8s-schema';
import { podSpecsOf, restrictedViolations } from './pss';

const run = (stack: string) => runProgram(stack, () => createStack(loadConfig()) as unknown as Record<string, unknown>);

const container = (d: Recorded, name: string) => {
  const c = d.inputs.spec.template.spec.containers.find((x: any) => x.name === name);
  if (!c) throw new Error(`no container ${name} in ${d.name}`);
  return c;
};
const envOf = (c: any): Record<string, any> =>
  Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

const stacks: Record<string, RunResult> = {};
beforeAll(async () => {
  // One process, one stack at a time: each run installs its own mocks and config.
  stacks.stateless = await run('stateless');
  stacks.stateful = await run('stateful');
});

describe.each(['stateless', 'stateful'])('stack %s', (stack) => {
  const r = () => stacks[stack];

  it('creates the tutorial objects with their exact names, and nothing auto-named', () => {
    const names = r()
      .k8sObjects()
      .map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'Deployment/redis-deployment',
        'Service/redis-service',
        'Deployment/chat-app-deployment',
        'Service/chat-app-lb',
        'Secret/redis-auth',
        'NetworkPolicy/redis-allow-chat-app',
        'PodDisruptionBudget/chat-app-pdb',
      ]),
    );
    for (const res of r().resources.filter((x) => x.type.startsWith('kubernetes:'))) {
      // Without an explicit metadata.name Pulumi appends a random suffix, and the tutorial's
      // kubectl commands would not find the objects.
      expect(res.inputs.metadata?.name).toBe(res.name);
    }
  });

  it('labels pods as the seed does (app=redis, app=chat-app), plus app.kubernetes.io/*', () => {
    const redis = r().one(T.deployment, 'redis-deployment').inputs;
    const chat = r().one(T.deployment, 'chat-app-deployment').inputs;
    expect(redis.spec.selector.matchLabels).toEqual({ app: 'redis' });
    expect(chat.spec.selector.matchLabels).toEqual({ app: 'chat-app' });
    for (const [d, app] of [
      [redis, 'redis'],
      [chat, 'chat-app'],
    ] as const) {
      expect(d.spec.template.metadata.labels).toMatchObject({
        app,
        'app.kubernetes.io/name': app,
        'app.kubernetes.io/instance': `chat-${stack}`,
        'app.kubernetes.io/part-of': 'doks-chat',
        'app.kubernetes.io/managed-by': 'pulumi',
      });
      expect(d.metadata.labels).toMatchObject({ app, 'app.kubernetes.io/name': app });
    }
    const redisSvc = r().one(T.service, 'redis-service').inputs;
    expect(redisSvc.spec.type).toBe('ClusterIP');
    expect(redisSvc.spec.selector).toEqual({ app: 'redis' });
    expect(redisSvc.spec.ports).toEqual([expect.objectContaining({ port: 6379, targetPort: 6379 })]);
  });

  it('every Kubernetes object passes schema validation', () => {
    const objects = r().k8sObjects();
    expect(objects.length).toBeGreaterThanOrEqual(8);
    for (const o of objects) expect(() => validateK8sObject(o)).not.toThrow();
  });

  it('every pod spec meets the restricted Pod Security Standard', () => {
    const pods = r().k8sObjects().flatMap(podSpecsOf);
    expect(pods.map((p) => p.where).sort()).toEqual(['Deployment/chat-app-deployment', 'Deployment/redis-deployment']);
    for (const p of pods)
      expect({ where: p.where, violations: restrictedViolations(p.spec) }).toEqual({ where: p.where, violations: [] });
    for (const p of pods) expect(p.spec.automountServiceAccountToken).toBe(false);
  });

  it('every container has requests and limits', () => {
    for (const p of r().k8sObjects().flatMap(podSpecsOf)) {
      for (const c of p.spec.containers) {
        expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources.limits).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      }
    }
  });

  it('puts every Kubernetes object on the stack cluster, inside a component', () => {
    const provider = r().one(T.provider, 'k8s');
    expect(provider.inputs.enableServerSideApply).toBe('true');
    for (const res of r().resources.filter((x) => x.type.startsWith('kubernetes:'))) {
      expect(res.provider).toMatch(
        /^urn:pulumi:[^:]+::chat::doks-chat:infra:Cluster\$pulumi:providers:kubernetes::k8s::/,
      );
    }
    const k8sUrns = r().urns.filter((u) => u.includes('$kubernetes:'));
    expect(k8sUrns.length).toBeGreaterThanOrEqual(8);
    for (const urn of k8sUrns) expect(urn).toMatch(/::doks-chat:infra:(Redis|ChatApp)\$kubernetes:/);
    for (const urn of r().urns.filter((u) => /\$(digitalocean|docker):/.test(u))) {
      expect(urn).toMatch(/::doks-chat:infra:(Cluster|Image)\$/);
    }
  });

  it('creates a DOKS cluster that surge-upgrades and takes its load balancer and volume with it on destroy', () => {
    const cluster = r().one(T.cluster).inputs;
    expect(cluster).toMatchObject({
      name: `chat-${stack}`,
      region: 'nyc1',
      version: '1.34.1-do.0', // the latest getKubernetesVersions reports
      surgeUpgrade: true,
      destroyAllAssociatedResources: true,
      ha: false,
      autoUpgrade: false,
      // The default pool: one small node that no config key changes (its size is ForceNew).
      nodePool: { name: `chat-${stack}-default`, size: 's-1vcpu-2gb', nodeCount: 1, autoScale: false },
    });
    expect(r().calls.map((c) => c.token)).toContain('digitalocean:index/getKubernetesVersions:getKubernetesVersions');
  });

  it('asks for short-lived cluster credentials, and its version lookup mints none', () => {
    // The credentials DOKS hands out with the cluster live this long, not 7 days; the program
    // itself reaches the cluster with the token kubeconfig.
    expect(r().one(T.cluster).inputs.kubeconfigExpireSeconds).toBe(KUBECONFIG_EXPIRE_SECONDS);
    expect(KUBECONFIG_EXPIRE_SECONDS).toBeGreaterThan(0);
    expect(KUBECONFIG_EXPIRE_SECONDS).toBeLessThanOrEqual(3600);
    // The running version is read from the API's cluster list, which mints no credential; the
    // getKubernetesCluster data source (one unpaged list, a 7-day credential per read) is not used.
    expect(r().calls.map((c) => c.token)).not.toContain('digitalocean:index/getKubernetesCluster:getKubernetesCluster');
  });

  it('runs the workloads on a workers pool of chat:nodeSize, chat:nodeCount nodes, labelled for them', () => {
    expect(r().one(T.nodePool, 'workers').inputs).toMatchObject({
      clusterId: 'cluster-id',
      name: 'workers-s-2vcpu-2gb',
      size: 's-2vcpu-2gb',
      nodeCount: 2,
      autoScale: false,
      labels: { [WORKERS_LABEL.key]: WORKERS_LABEL.value },
      tags: ['doks-chat', `chat-${stack}`],
    });
  });

  it('schedules both Deployments onto the workers pool, by a label only that pool carries', () => {
    for (const name of ['redis-deployment', 'chat-app-deployment']) {
      expect(r().one(T.deployment, name).inputs.spec.template.spec.nodeSelector).toEqual({
        [WORKERS_LABEL.key]: WORKERS_LABEL.value,
      });
    }
    // The default pool carries no labels at all.
    expect(r().one(T.cluster).inputs.nodePool.labels).toBeUndefined();
  });

  it('makes no input of a Deployment, Service or claim secret, so `pulumi preview --diff` shows their changes', () => {
    const k8s = r().resources.filter((x) => x.type.startsWith('kubernetes:') && x.custom !== false);
    expect(k8s.length).toBeGreaterThanOrEqual(8);
    for (const x of k8s) {
      const allowed =
        x.type === T.secret ? x.secretPaths.filter((p) => !/^(stringData|data)(\.|$)/.test(p)) : x.secretPaths;
      expect({ resource: `${x.type}::${x.name}`, secret: allowed }).toEqual({
        resource: `${x.type}::${x.name}`,
        secret: [],
      });
    }
    for (const name of ['redis-deployment', 'chat-app-deployment']) {
      expect(r().one(T.deployment, name).secretPaths).toEqual([]);
    }
    // Only the kubeconfig on the Kubernetes provider.
    expect(r().one(T.provider, 'k8s').secretPaths).toEqual(['kubeconfig']);
  });

  it('lets a chat pod leave without refusing connections: preStop wait, then drain, within the grace period', () => {
    const d = r().one(T.deployment, 'chat-app-deployment').inputs;
    const c = container(r().one(T.deployment, 'chat-app-deployment'), 'chat');
    const a = r().one(T.service, 'chat-app-lb').inputs.metadata.annotations;
    const n = (k: string) => Number(a[`service.beta.kubernetes.io/do-loadbalancer-healthcheck-${k}`]);
    // The health-check window as the Service's own annotations give it: unhealthy-threshold
    // failed checks an interval apart, plus one check's timeout.
    const window = n('check-interval-seconds') * n('unhealthy-threshold') + n('response-timeout-seconds');
    expect(window).toBe(healthCheckWindowSeconds());
    expect(c.lifecycle).toEqual({ preStop: { sleep: { seconds: PRE_STOP_SECONDS } } });
    expect(c.lifecycle.preStop.sleep.seconds).toBeGreaterThanOrEqual(window);
    // The service drains for DRAIN_SECONDS after SIGTERM: the Deployment says so, and it is the
    // service's own default.
    expect(envOf(c).DRAIN_SECONDS).toBe(String(DRAIN_SECONDS));
    expect(DRAIN_SECONDS).toBe(SERVICE_DEFAULTS.drainSeconds);
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(TERMINATION_GRACE_SECONDS);
    expect(TERMINATION_GRACE_SECONDS).toBeGreaterThanOrEqual(c.lifecycle.preStop.sleep.seconds + DRAIN_SECONDS);
    // Readiness is not failed early: the probe stays the service's /readyz.
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    // A rollout surges first and never removes a ready pod before its replacement is ready.
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  it('reaches the cluster with a kubeconfig built on the DigitalOcean token, not the 7-day one', () => {
    const kubeconfig = String(r().outputs.kubeconfig);
    expect(kubeconfig).toContain(`token: ${FAKE_DO_TOKEN}`);
    expect(kubeconfig).toContain(`server: https://chat-${stack}.k8s.ondigitalocean.com`);
    expect(kubeconfig).toContain(`certificate-authority-data: ${Buffer.from('fake-ca').toString('base64')}`);
    expect(kubeconfig).not.toContain('7-day');
    expect(r().one(T.provider, 'k8s').inputs.kubeconfig).toBe(kubeconfig);
    expect(r().secretOutputs).toEqual(['kubeconfig']);
  });

  it('builds app/Dockerfile for linux/amd64 from the repository root and pushes it to a new registry', () => {
    const registry = r().one(T.registry).inputs;
    expect(registry).toMatchObject({ name: 'doks-chat-x1y2z3', subscriptionTierSlug: 'starter' });
    const image = r().one(T.image).inputs;
    // Tagged with the stack: another stack pushing to the same registry never retags this one's image.
    expect(image.imageName).toBe(`registry.digitalocean.com/doks-chat-x1y2z3/chat:chat-${stack}`);
    expect(image.build).toEqual({ context: '.', dockerfile: 'app/Dockerfile', platform: 'linux/amd64' });
    // Pushed with the write credentials DigitalOcean issued, not the host's docker login.
    expect(image.registry).toEqual({
      server: 'registry.digitalocean.com',
      username: 'push-user',
      password: 'push-secret',
    });
    expect(isSecretAt(r().one(T.image), 'registry.password')).toBe(true);
    const creds = r()
      .byType(T.credentials)
      .map((c) => c.inputs);
    expect(creds).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ registryName: 'doks-chat-x1y2z3', write: true }),
        expect.objectContaining({ registryName: 'doks-chat-x1y2z3', write: false }),
      ]),
    );
    expect(r().outputs.registryEndpoint).toBe('registry.digitalocean.com/doks-chat-x1y2z3');
  });

  it('runs the chat image by digest, pulled with read-only registry credentials', () => {
    const chat = r().one(T.deployment, 'chat-app-deployment');
    const digestRef = `registry.digitalocean.com/doks-chat-x1y2z3/chat@${FAKE_DIGEST}`;
    expect(container(chat, 'chat').image).toBe(digestRef);
    expect(r().outputs.image).toBe(digestRef);
    expect(chat.inputs.spec.template.spec.imagePullSecrets).toEqual([{ name: 'chat-registry' }]);
    const pull = r().one(T.secret, 'chat-registry').inputs;
    expect(pull.type).toBe('kubernetes.io/dockerconfigjson');
    const auth = JSON.parse(pull.stringData['.dockerconfigjson']).auths['registry.digitalocean.com'].auth;
    expect(Buffer.from(auth, 'base64').toString()).toBe('pull-user:pull-secret');
    expect(isSecretAt(r().one(T.secret, 'chat-registry'), 'stringData..dockerconfigjson')).toBe(true);
  });

  it('runs the chat replicas with the environment the service reads', () => {
    const chat = r().one(T.deployment, 'chat-app-deployment');
    expect(chat.inputs.spec.replicas).toBe(2);
    const c = container(chat, 'chat');
    expect(envOf(c)).toEqual({
      PORT: '8080',
      REDIS_URL: 'redis://redis-service:6379',
      REDIS_PASSWORD: { secretKeyRef: { name: 'redis-auth', key: 'password' } },
      HISTORY_LIMIT: '100',
      REPLICA_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      TRUST_PROXY: '1',
      DRAIN_SECONDS: '10',
    });
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    // The official Node images' `node` user, numeric so the kubelet can check runAsNonRoot.
    expect(chat.inputs.spec.template.spec.securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 1000 });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
  });

  it('gives the chat container an environment the service itself accepts', () => {
    const c = container(r().one(T.deployment, 'chat-app-deployment'), 'chat');
    // Values the kubelet fills in at run time (secret, pod name) get stand-ins.
    const env = Object.fromEntries(
      Object.entries(envOf(c)).map(([k, v]) => [k, typeof v === 'string' ? v : `from-${k.toLowerCase()}`]),
    );
    const cfg = loadServiceConfig(env);
    expect(cfg).toMatchObject({ port: 8080, redisUrl: 'redis://redis-service:6379', historyLimit: 100, trustProxy: 1 });
  });

  it("sizes the chat container's memory limit above the replica's V8 heap limit, with room for the rest of the process", () => {
    const c = container(r().one(T.deployment, 'chat-app-deployment'), 'chat');
    const mi = /^(\d+)Mi$/.exec(c.resources.limits.memory);
    expect(mi).not.toBeNull();
    // Node's code, buffers and the 2 × 8 MB young generation live outside the old-space limit.
    expect(Number(mi![1]) - MAX_OLD_SPACE_MB).toBeGreaterThanOrEqual(64);
  });

  it('spreads chat replicas across nodes and limits voluntary disruption to one', () => {
    const spec = r().one(T.deployment, 'chat-app-deployment').inputs.spec;
    expect(spec.template.spec.topologySpreadConstraints).toEqual([
      expect.objectContaining({
        topologyKey: 'kubernetes.io/hostname',
        maxSkew: 1,
        labelSelector: { matchLabels: { app: 'chat-app' } },
      }),
    ]);
    expect(r().one(T.pdb, 'chat-app-pdb').inputs.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { app: 'chat-app' } },
    });
  });

  it('exposes the chat on port 80 of an HTTP (REGIONAL) DigitalOcean load balancer', () => {
    const lb = r().one(T.service, 'chat-app-lb').inputs;
    expect(lb.spec.type).toBe('LoadBalancer');
    expect(lb.spec.selector).toEqual({ app: 'chat-app' });
    expect(lb.spec.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' }]);
    // Local: the balancer health-checks each node's health-check node port, which answers
    // only where a ready (/readyz) chat pod runs; and no second hop hides the balancer.
    expect(lb.spec.externalTrafficPolicy).toBe('Local');
    const a = lb.metadata.annotations;
    // Without the type the controller makes a TCP pass-through balancer that ignores the
    // protocol and idle timeout, and TRUST_PROXY=1 would let clients spoof X-Forwarded-For.
    expect(a['service.beta.kubernetes.io/do-loadbalancer-type']).toBe('REGIONAL');
    expect(a['service.beta.kubernetes.io/do-loadbalancer-protocol']).toBe('http');
    expect(a['service.beta.kubernetes.io/do-loadbalancer-name']).toBe(`chat-${stack}`);
    // Long enough for a quiet live feed (Server-Sent Events), within DigitalOcean's 30..600.
    const idle = Number(a['service.beta.kubernetes.io/do-loadbalancer-http-idle-timeout-seconds']);
    expect(idle).toBeGreaterThanOrEqual(300);
    expect(idle).toBeLessThanOrEqual(600);
    expect(r().outputs.url).toBe(`http://${FAKE_LB_IP}`);
  });

  it('sets only load-balancer annotations that take effect, as strings', () => {
    const a = r().one(T.service, 'chat-app-lb').inputs.metadata.annotations as Record<string, unknown>;
    expect(Object.keys(a).sort()).toEqual(
      [
        'service.beta.kubernetes.io/do-loadbalancer-http-idle-timeout-seconds',
        'service.beta.kubernetes.io/do-loadbalancer-name',
        'service.beta.kubernetes.io/do-loadbalancer-protocol',
        'service.beta.kubernetes.io/do-loadbalancer-type',
        // Read by buildHealthCheck without override-health-check: the preStop wait depends on them.
        'service.beta.kubernetes.io/do-loadbalancer-healthcheck-check-interval-seconds',
        'service.beta.kubernetes.io/do-loadbalancer-healthcheck-response-timeout-seconds',
        'service.beta.kubernetes.io/do-loadbalancer-healthcheck-unhealthy-threshold',
        'service.beta.kubernetes.io/do-loadbalancer-healthcheck-healthy-threshold',
      ].sort(),
    );
    for (const v of Object.values(a)) expect(typeof v).toBe('string');
    // The controller reads healthcheck-path/-protocol/-port only under override-health-check.
    expect(Object.keys(a).filter((k) => /healthcheck-(path|protocol|port)$/.test(k))).toEqual([]);
  });

  it('tells the chat it is served over plain HTTP (no HTTPS_ONLY)', () => {
    expect(envOf(container(r().one(T.deployment, 'chat-app-deployment'), 'chat')).HTTPS_ONLY).toBeUndefined();
  });

  it('protects Redis with a generated password from a Secret, passed without a shell', () => {
    const secret = r().one(T.secret, 'redis-auth').inputs;
    expect(secret.stringData).toEqual({ password: 'generated-redis-password-0123456789' });
    expect(isSecretAt(r().one(T.secret, 'redis-auth'), 'stringData.password')).toBe(true);
    expect(r().byType('random:index/randomPassword:RandomPassword')).toHaveLength(1);
    const redis = container(r().one(T.deployment, 'redis-deployment'), 'redis');
    // redis-server itself, or the lock guard's shell that execs it with "$@" (persistent).
    expect(redis.command.slice(-1)).toEqual(['redis-server']);
    expect(redis.args.slice(-2)).toEqual(['--requirepass', '$(REDIS_PASSWORD)']);
    expect(envOf(redis).REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'password' } });
    expect(
      JSON.stringify(
        r()
          .k8sObjects()
          .filter((o) => o.kind !== 'Secret'),
      ),
    ).not.toContain('generated-redis-password');
  });

  it('runs a pinned Redis 7 alpine image as uid 999 with liveness, readiness and startup probes', () => {
    const d = r().one(T.deployment, 'redis-deployment');
    const redis = container(d, 'redis');
    expect(redis.image).toMatch(/^redis:7\.\d+\.\d+-alpine$/);
    expect(d.inputs.spec.replicas).toBe(1);
    expect(d.inputs.spec.template.spec.securityContext).toMatchObject({
      runAsUser: 999,
      runAsGroup: 999,
      runAsNonRoot: true,
    });
    expect(redis.securityContext.readOnlyRootFilesystem).toBe(true);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      expect(redis[probe].exec.command.join(' ')).toContain('redis-cli');
      expect(redis[probe].exec.command.join(' ')).toContain('PONG');
    }
    // redis-cli authenticates from REDISCLI_AUTH, so the password is not on a command line.
    expect(envOf(redis).REDISCLI_AUTH).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'password' } });
  });

  it('lets only the chat pods reach Redis on 6379', () => {
    const np = r().one(T.netpol, 'redis-allow-chat-app').inputs.spec;
    expect(np).toEqual({
      podSelector: { matchLabels: { app: 'redis' } },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: 'chat-app' } } }], ports: [{ protocol: 'TCP', port: 6379 }] },
      ],
    });
  });

  it('exports the outputs the README and the experiment use', () => {
    const o = r().outputs;
    expect(Object.keys(o).sort()).toEqual(
      [
        'appendfsync',
        'clusterName',
        'experiment',
        'image',
        'kubeconfig',
        'loadBalancerIp',
        'monthlyCost',
        'persistence',
        'redis',
        'redisCommand',
        'registryEndpoint',
        'restoredFrom',
        'url',
      ].sort(),
    );
    // Without chat:restoreFrom, nothing was restored (restore.ts reads this back on a later up).
    expect(o.restoredFrom).toBeNull();
    expect(o.loadBalancerIp).toBe(FAKE_LB_IP);
    expect(o.clusterName).toBe(`chat-${stack}`);
    const experiment = o.experiment as Record<string, string>;
    expect(experiment.crashRedis).toBe('kubectl delete pod -l app=redis');
    expect(experiment.watchLoadBalancer).toBe('kubectl get svc chat-app-lb -w');
    expect(experiment.redisLog).toContain('redis-deployment');
    // Without chat:redis: the pod, and a cost that counts the volume only when persistent.
    expect(o.redis).toBe('pod');
    const cost = o.monthlyCost as { usd: number; lines: { item: string }[] };
    expect(cost.usd).toBe(stack === 'stateful' ? 60.1 : 60);
    expect(cost.lines.some((l) => l.item.startsWith('volume'))).toBe(stack === 'stateful');
  });
});

describe('stateless: Redis in memory only (phase 1)', () => {
  const r = () => stacks.stateless;

  it('has no volume claim and no volume, and neither snapshots nor an append-only file', () => {
    expect(r().byType(T.pvc)).toHaveLength(0);
    const d = r().one(T.deployment, 'redis-deployment');
    const redis = container(d, 'redis');
    expect(d.inputs.spec.template.spec.volumes ?? []).toEqual([]);
    expect(redis.volumeMounts ?? []).toEqual([]);
    expect(redis.args.slice(0, 4)).toEqual(['--save', '', '--appendonly', 'no']);
    expect(redis.args).not.toContain('yes');
    expect(redis.args).not.toContain('--dir');
  });

  it('builds the command line from redisPlan, as the local stack does', () => {
    const redis = container(r().one(T.deployment, 'redis-deployment'), 'redis');
    expect(redis.args.slice(0, redisPlan(false).args.length)).toEqual(redisPlan(false).args);
    expect(r().outputs.redisCommand).toBe('redis-server --save "" --appendonly no');
  });

  it('rolls Redis with an explicit RollingUpdate, so a later switch to Recreate can drop it', () => {
    expect(r().one(T.deployment, 'redis-deployment').inputs.spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
  });

  it('reports memory-only persistence', () => {
    expect(r().outputs.persistence).toBe('memory');
    expect(r().outputs.appendfsync).toBeNull();
    expect((r().outputs.experiment as Record<string, string>).expect).toMatch(/gone/);
  });
});

describe('stateful: Redis with an append-only file on a volume (phase 2)', () => {
  const r = () => stacks.stateful;

  it('claims a ReadWriteOnce do-block-storage volume of 1Gi named redis-pvc', () => {
    expect(r().one(T.pvc, 'redis-pvc').inputs.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'do-block-storage',
      resources: { requests: { storage: '1Gi' } },
    });
  });

  it('mounts the claim at /data and writes the append-only file there with the configured fsync', () => {
    const d = r().one(T.deployment, 'redis-deployment');
    const redis = container(d, 'redis');
    expect(d.inputs.spec.template.spec.volumes).toEqual([
      { name: 'redis-data', persistentVolumeClaim: { claimName: 'redis-pvc' } },
    ]);
    expect(redis.volumeMounts).toEqual([{ name: 'redis-data', mountPath: '/data' }]);
    expect(redis.args.slice(0, 4)).toEqual(['--appendonly', 'yes', '--appendfsync', 'everysec']);
    expect(redis.args.slice(0, 4)).toEqual(redisPlan(true, 'everysec').args);
    expect(redis.args.join(' ')).toContain('--dir /data');
    expect(r().outputs.redisCommand).toBe('redis-server --appendonly yes --appendfsync everysec');
  });

  it('replaces the Redis pod with Recreate on a rollout', () => {
    expect(r().one(T.deployment, 'redis-deployment').inputs.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('starts redis-server behind a flock on /data/redis.lock, as the local stack does (redisLaunch)', () => {
    const redis = container(r().one(T.deployment, 'redis-deployment'), 'redis');
    // `kubectl delete pod` does not wait like Recreate: the lock keeps a replacement on the
    // same node from opening the AOF until the old redis-server has exited.
    expect(redis.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(redis.command[3]).toBe('redis-server');
    const script: string = redis.command[2];
    expect(script).toContain('exec 9>>/data/redis.lock');
    expect(script).toMatch(/flock -n 9 \|\| \{[^}]*flock 9/);
    expect(script.trim().split('\n').pop()).toBe('exec redis-server "$@"');
    // The password stays an argument that Kubernetes expands: the shell passes "$@" untouched.
    expect(script).not.toContain('REDIS_PASSWORD');
    expect(redis.args.slice(-2)).toEqual(['--requirepass', '$(REDIS_PASSWORD)']);
    expect({ command: redis.command, args: redis.args }).toEqual(
      redisLaunch(redisPlan(true, 'everysec'), '/data', ['--port', '6379', '--requirepass', '$(REDIS_PASSWORD)']),
    );
  });

  it('hands the volume to group 999 so non-root Redis can create appendonlydir', () => {
    expect(r().one(T.deployment, 'redis-deployment').inputs.spec.template.spec.securityContext).toMatchObject({
      fsGroup: 999,
    });
  });

  it('gives a long append-only file at least ten minutes to load before liveness applies', () => {
    const p = container(r().one(T.deployment, 'redis-deployment'), 'redis').startupProbe;
    expect(p.periodSeconds * p.failureThreshold).toBeGreaterThanOrEqual(600);
  });

  it('reports AOF persistence', () => {
    expect(r().outputs.persistence).toBe('aof');
    expect(r().outputs.appendfsync).toBe('everysec');
    expect((r().outputs.experiment as Record<string, string>).expect).toMatch(/DB loaded from append only file/);
  });
});

describe('switching persistence on one stack', () => {
  it('keeps every name, so `pulumi config set chat:persistence true` updates in place and only adds the claim', async () => {
    const flipped = await runProgram(
      'stateless',
      () => createStack(loadConfig()) as unknown as Record<string, unknown>,
      {
        'chat:persistence': 'true',
      },
    );
    const key = (x: Recorded) => `${x.type}::${x.name}`;
    const before = new Set(stacks.stateless.resources.map(key));
    const after = new Set(flipped.resources.map(key));
    // The claim, and the record of the class it is created with (a Stash in the state).
    expect([...after].filter((k) => !before.has(k)).sort()).toEqual(
      [`${T.pvc}::redis-pvc`, 'pulumi:index:Stash::redis-pvc-storage-class'].sort(),
    );
    expect([...before].filter((k) => !after.has(k))).toEqual([]);
    expect(flipped.one(T.cluster).inputs.name).toBe('chat-stateless');
    expect(flipped.one(T.deployment, 'redis-deployment').inputs.spec.strategy).toEqual({ type: 'Recreate' });
  });
});
