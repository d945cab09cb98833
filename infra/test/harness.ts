/**
 * Runs the Pulumi program in-process against mocks (no CLI, no cloud): loads a real
 * Pulumi.<stack>.yaml into the config, records every resource and invoke, and returns the
 * stack outputs with their values.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const PROJECT = 'chat';
/** The organization of a DIY backend (`pulumi login --local`): stack references read organization/<project>/<stack>. */
export const ORGANIZATION = 'organization';
export const FAKE_DO_TOKEN = 'dop_v1_' + 'f'.repeat(64);
export const FAKE_LB_IP = '203.0.113.10';
export const FAKE_DIGEST = 'sha256:' + 'ab'.repeat(32);
export const FAKE_VPC_UUID = '11111111-2222-3333-4444-555555555555';
export const FAKE_DB_PASSWORD = 'AVNS_fake-valkey-password';

export interface Recorded {
  type: string;
  name: string;
  /** Inputs with secrets unwrapped to their values. */
  inputs: any;
  /** Dotted paths of the inputs that were marked secret, e.g. stringData.password. */
  secretPaths: string[];
  provider?: string;
  custom?: boolean;
}

export interface RunResult {
  resources: Recorded[];
  calls: { token: string; inputs: any }[];
  /** URNs of every registered resource: they show the parent chain (Parent$Child). */
  urns: string[];
  outputs: Record<string, unknown>;
  /** Names of the outputs Pulumi would store encrypted. */
  secretOutputs: string[];
  byType(type: string): Recorded[];
  one(type: string, name?: string): Recorded;
  /** Kubernetes objects (the inputs the provider would apply). */
  k8sObjects(): any[];
}

/** js-yaml ships with @pulumi/pulumi (it reads these same files); load it as @pulumi/pulumi does. */
function yamlLoad(text: string): any {
  const fromPulumi = createRequire(require.resolve('@pulumi/pulumi'));
  const jsYaml = fromPulumi('js-yaml') as { load(s: string): unknown };
  return jsYaml.load(text);
}

/**
 * The config map `pulumi up -s <stack>` hands to the program: each value a string, objects
 * as JSON (as the CLI does for structured config).
 */
export function stackConfig(stack: string): Record<string, string> {
  const file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
  const doc = yamlLoad(fs.readFileSync(file, 'utf8')) as { config?: Record<string, unknown> } | null;
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc?.config ?? {})) {
    if (value !== null && typeof value === 'object' && 'secure' in value) {
      throw new Error(`${file}: ${key} is an encrypted secret; the tests cannot decrypt it`);
    }
    config[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return config;
}

const SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

/** Mocks see secrets as {<sig>: <secret sig>, value}; unwrap them and note where they were. */
function unwrapSecrets(value: any, at: string, found: string[]): any {
  if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, found));
  if (value !== null && typeof value === 'object') {
    if (value[SIG_KEY] === SECRET_SIG) {
      found.push(at);
      return unwrapSecrets(value.value, at, []);
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, found)]),
    );
  }
  return value;
}

/** Whether the input at `path` (dotted) was secret, itself or as part of a secret parent. */
export function isSecretAt(rec: Recorded, path: string): boolean {
  return rec.secretPaths.some((p) => p === '' || path === p || path.startsWith(`${p}.`));
}

/** Fake provider outputs: what DigitalOcean, Docker and Kubernetes would report back. */
function fakeState(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
  const inputs = args.inputs;
  switch (args.type) {
    case 'digitalocean:index/kubernetesCluster:KubernetesCluster':
      return {
        ...inputs,
        endpoint: `https://${inputs.name}.k8s.ondigitalocean.com`,
        kubeConfigs: [
          {
            clusterCaCertificate: Buffer.from('fake-ca').toString('base64'),
            rawConfig: 'apiVersion: v1\nkind: Config\n# 7-day token\n',
            token: 'short-lived',
          },
        ],
        status: 'running',
        // The region's default VPC when none is given (vpc_uuid is Computed).
        vpcUuid: inputs.vpcUuid ?? FAKE_VPC_UUID,
      };
    case 'digitalocean:index/containerRegistry:ContainerRegistry':
      return {
        ...inputs,
        endpoint: `registry.digitalocean.com/${inputs.name}`,
        serverUrl: 'registry.digitalocean.com',
      };
    case 'digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials': {
      const who = inputs.write ? 'push' : 'pull';
      const auth = Buffer.from(`${who}-user:${who}-secret`).toString('base64');
      return { ...inputs, dockerCredentials: JSON.stringify({ auths: { 'registry.digitalocean.com': { auth } } }) };
    }
    case 'docker:index/image:Image': {
      const repo = String(inputs.imageName).replace(/:[^/:]+$/, '');
      return { ...inputs, repoDigest: `${repo}@${FAKE_DIGEST}`, baseImageName: inputs.imageName };
    }
    case 'random:index/randomPassword:RandomPassword':
      return { ...inputs, result: 'generated-redis-password-0123456789' };
    case 'random:index/randomId:RandomId': {
      // As the random provider: new random bytes whenever the keepers change (a replacement),
      // the same bytes while they stay (the state keeps them).
      const key = `${args.name}:${JSON.stringify(inputs.keepers ?? {})}`;
      if (!randomIds.has(key)) randomIds.set(key, randomBytes(inputs.byteLength ?? 8).toString('hex'));
      return { ...inputs, hex: randomIds.get(key) };
    }
    case 'pulumi:index:Stash': {
      // As the builtin provider: `output` keeps the first value a Stash was given.
      if (!stashes.has(args.name)) stashes.set(args.name, inputs.input);
      return { input: inputs.input, output: stashes.get(args.name) };
    }
    case 'random:index/randomString:RandomString':
      return { ...inputs, result: 'x1y2z3' };
    case 'digitalocean:index/databaseCluster:DatabaseCluster':
      // What the API reports for Valkey: TLS URIs with the password put in (setDatabaseConnectionInfo).
      return {
        ...inputs,
        host: `${inputs.name}-do-user-1.db.ondigitalocean.com`,
        privateHost: `private-${inputs.name}-do-user-1.db.ondigitalocean.com`,
        port: 25061,
        user: 'default',
        password: FAKE_DB_PASSWORD,
        uri: `rediss://default:${FAKE_DB_PASSWORD}@${inputs.name}-do-user-1.db.ondigitalocean.com:25061`,
        privateUri: `rediss://default:${FAKE_DB_PASSWORD}@private-${inputs.name}-do-user-1.db.ondigitalocean.com:25061`,
      };
    case 'pulumi:pulumi:StackReference':
      // What the referenced stack exported in its last deployment (previous-deployment.ts reads its own).
      return { ...inputs, outputs: previousOutputs.get(String(inputs.name)) ?? {}, secretOutputNames: [] };
    case 'kubernetes:core/v1:Service':
      return inputs.spec?.type === 'LoadBalancer'
        ? { ...inputs, status: { loadBalancer: { ingress: [{ ip: FAKE_LB_IP }] } } }
        : { ...inputs };
    default:
      return { ...inputs };
  }
}

/** Outputs of earlier deployments, by full stack name (organization/chat/<stack>); empty: never deployed. */
export const previousOutputs = new Map<string, Record<string, unknown>>();

/**
 * Clusters that already exist in the fake account, by name, with the version they run, in the
 * order the API lists them. Empty means a first `pulumi up`. The fake DigitalOcean API
 * (fakeDigitalOceanApi) lists them in pages.
 */
export const liveClusters = new Map<string, { version: string }>();
/** Records of the fake account's DNS zones, by zone, as the getRecords data source reports them. */
export const liveRecords = new Map<string, { id: number; name: string; type: string; value: string; ttl?: number }[]>();
/** Load balancers of the fake account, by name. */
export const liveLoadBalancers = new Map<string, { ip: string; ipv6?: string }>();
/** What RandomId resources drew, by name and keepers: the stack's state across runs in one test file. */
const randomIds = new Map<string, string>();
/** What Stash resources hold in `output`, by name: the stack's state across runs in one test file. */
export const stashes = new Map<string, unknown>();

/** Forget the fake account and the fake state (a new account, a new stack). */
export function resetFakeWorld(): void {
  liveClusters.clear();
  liveRecords.clear();
  liveLoadBalancers.clear();
  randomIds.clear();
  stashes.clear();
}

/** An invoke error as the engine hands it to the SDK, which rejects with new Error(err.details). */
function invokeError(token: string, message: string): Error {
  const details = `invocation of ${token} returned an error: ${message}`;
  return Object.assign(new Error(details), { details });
}

function fakeCall(args: pulumi.runtime.MockCallArgs): Record<string, any> {
  switch (args.token) {
    case 'digitalocean:index/getRecords:getRecords': {
      const filters: { key: string; values: string[] }[] = args.inputs.filters ?? [];
      const records = (liveRecords.get(args.inputs.domain) ?? [])
        .filter((r) => filters.every((f) => f.values.includes(String((r as any)[f.key]))))
        .map((r) => ({ domain: args.inputs.domain, ttl: 1800, ...r }));
      return { id: args.inputs.domain, domain: args.inputs.domain, records };
    }
    case 'digitalocean:index/getLoadBalancer:getLoadBalancer': {
      const lb = liveLoadBalancers.get(args.inputs.name);
      // The data source's message (datasource_loadbalancer.go findLoadBalancerByName).
      if (!lb) throw invokeError(args.token, `no load balancer found with name ${args.inputs.name}`);
      return { id: `${args.inputs.name}-id`, name: args.inputs.name, ip: lb.ip, ipv6: lb.ipv6 ?? '' };
    }
    case 'digitalocean:index/getKubernetesVersions:getKubernetesVersions': {
      const all = ['1.34.1-do.0', '1.33.5-do.1', '1.32.9-do.2'];
      const valid = all.filter((v) => !args.inputs.versionPrefix || v.startsWith(args.inputs.versionPrefix));
      return {
        id: 'versions',
        latestVersion: valid[0] ?? '',
        validVersions: valid,
        versionPrefix: args.inputs.versionPrefix,
      };
    }
    case 'digitalocean:index/getContainerRegistry:getContainerRegistry':
      return {
        id: args.inputs.name,
        name: args.inputs.name,
        endpoint: `registry.digitalocean.com/${args.inputs.name}`,
        serverUrl: 'registry.digitalocean.com',
        subscriptionTierSlug: 'starter',
        region: 'nyc3',
      };
    default:
      throw new Error(`unexpected invoke ${args.token}`);
  }
}

function valueOf<T>(o: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

/** Install mocks and config for a stack; returns the recording arrays. */
export function installMocks(stack: string, config: Record<string, string>) {
  const resources: Recorded[] = [];
  const calls: { token: string; inputs: any }[] = [];
  pulumi.runtime.setAllConfig(config);
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const secretPaths: string[] = [];
        const inputs = unwrapSecrets(args.inputs, '', secretPaths);
        resources.push({
          type: args.type,
          name: args.name,
          inputs,
          secretPaths,
          provider: args.provider,
          custom: args.custom,
        });
        return { id: `${args.name}-id`, state: fakeState({ ...args, inputs }) };
      },
      call(args) {
        calls.push({ token: args.token, inputs: args.inputs });
        return fakeCall(args);
      },
    },
    PROJECT,
    stack,
    false,
    ORGANIZATION,
  );
  return { resources, calls };
}

/** Servers the fakes started in this test file, closed (and their files removed) when it ends. */
const cleanups: (() => Promise<void>)[] = [];

/** Closes every fake server of this test file; registered with afterAll below. */
export async function closeFakes(): Promise<void> {
  fakeDocker = undefined;
  fakeApi = undefined;
  await Promise.all(cleanups.splice(0).map((c) => c()));
}

/**
 * Lets the jest worker that ran this file exit: closes the fakes, and the worker's stdin.
 *
 * Loading @pulumi/pulumi creates process.stdin: automation/interface/index.js copies every
 * property of `process` (`__importStar(require("process"))`), and reading the stdin getter
 * opens the worker's stdin pipe. Nothing reads it, but the open pipe kept jest's worker from
 * exiting in time ("A worker process has failed to exit gracefully and has been force
 * exited"), as an open fake socket would. A jest worker takes its work over IPC, not stdin.
 */
async function releaseWorker(): Promise<void> {
  await closeFakes();
  process.stdin.destroy();
}

// Every test file that imports the harness (and so @pulumi/pulumi) releases its worker when it ends.
if (typeof afterAll === 'function') afterAll(releaseWorker);

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

let fakeDocker: Promise<string> | undefined;

/**
 * A stand-in for the Docker daemon's socket that answers GET /_ping, so the program's check
 * (infra/docker-daemon.ts) passes as on a machine with Docker running. One per test file,
 * closed when it ends.
 */
export function fakeDockerDaemon(): Promise<string> {
  fakeDocker ??= new Promise((resolve, reject) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-docker-'));
    const socket = path.join(dir, 'docker.sock');
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/_ping' ? 200 : 404, { 'Content-Type': 'text/plain' });
      res.end(req.url === '/_ping' ? 'OK' : 'not found');
    });
    server.once('error', reject);
    server.listen(socket, () => {
      cleanups.push(async () => {
        await closeServer(server);
        fs.rmSync(dir, { recursive: true, force: true });
      });
      resolve(socket);
    });
  });
  return fakeDocker;
}

/** The page size the fake API uses, small so that a handful of clusters spans several pages. */
export const FAKE_API_PAGE_SIZE = 20;
let fakeApi: Promise<string> | undefined;
/** Requests the fake DigitalOcean API answered, in order (path and query). */
export const apiRequests: string[] = [];

/**
 * A stand-in for the DigitalOcean API on 127.0.0.1, for the reads the program makes itself
 * (infra/digitalocean-api.ts): GET /v2/kubernetes/clusters lists liveClusters in pages of at
 * most FAKE_API_PAGE_SIZE (the API caps per_page the same way), with links.pages.next and
 * meta.total as the API gives them (godo links.go). It wants the stack's token.
 */
export function fakeDigitalOceanApi(): Promise<string> {
  fakeApi ??= new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      apiRequests.push(`${url.pathname}${url.search}`);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${FAKE_DO_TOKEN}`) return send(401, { id: 'unauthorized' });
      if (req.method !== 'GET' || url.pathname !== '/v2/kubernetes/clusters') return send(404, { id: 'not_found' });
      const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 20), FAKE_API_PAGE_SIZE);
      const page = Number(url.searchParams.get('page') ?? 1);
      const all = [...liveClusters].map(([name, c]) => ({ id: `${name}-id`, name, version: c.version }));
      const items = all.slice((page - 1) * perPage, page * perPage);
      const last = Math.max(1, Math.ceil(all.length / perPage));
      const at = (p: number) => `http://${req.headers.host}/v2/kubernetes/clusters?page=${p}&per_page=${perPage}`;
      send(200, {
        kubernetes_clusters: items,
        links: page < last ? { pages: { next: at(page + 1), last: at(last) } } : {},
        meta: { total: all.length },
      });
    });
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      cleanups.push(() => closeServer(server));
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
  return fakeApi;
}

/**
 * Runs `program` (which declares the stack and returns its outputs) under the mocks with
 * the stack file's config plus `overrides` (undefined deletes a key).
 */
export async function runProgram(
  stack: string,
  program: () => Record<string, unknown> | Promise<Record<string, unknown>>,
  overrides: Record<string, string | undefined> = {},
  options: { keepState?: boolean } = {},
): Promise<RunResult> {
  // Each run is a new stack unless told otherwise: what its resources drew (RandomId) and
  // stashed (Stash) on an earlier run is its state.
  if (!options.keepState) {
    randomIds.clear();
    stashes.clear();
  }
  return runDeclared(stack, program, overrides);
}

async function runDeclared(
  stack: string,
  program: () => Record<string, unknown> | Promise<Record<string, unknown>>,
  overrides: Record<string, string | undefined>,
): Promise<RunResult> {
  const config = { [`digitalocean:token`]: FAKE_DO_TOKEN, ...stackConfig(stack) } as Record<string, string | undefined>;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete config[k];
    else config[k] = v;
  }
  // Docker "runs" at DOCKER_HOST, where the program looks for it before a build.
  process.env.DOCKER_HOST = `unix://${await fakeDockerDaemon()}`;
  // The DigitalOcean API the program reads itself is the fake one (as DIGITALOCEAN_API_URL
  // points the provider elsewhere: infra/digitalocean-api.ts apiBaseUrl).
  process.env.DIGITALOCEAN_API_URL = await fakeDigitalOceanApi();
  const { resources, calls } = installMocks(stack, config as Record<string, string>);
  const declared = await program();
  const outputs: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  for (const [k, v] of Object.entries(declared)) {
    if (pulumi.Output.isInstance(v) && (await pulumi.isSecret(v))) secretOutputs.push(k);
    outputs[k] = await valueOf(v);
  }
  // Let every registration finish before reading what was recorded.
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  const monitor = pulumi.runtime.getMonitor() as unknown as { getRegisteredResources(): Map<string, unknown> };
  const urns = [...monitor.getRegisteredResources().keys()];

  const byType = (type: string) => resources.filter((r) => r.type === type);
  return {
    resources,
    calls,
    urns,
    outputs,
    secretOutputs,
    byType,
    one(type, name) {
      const found = byType(type).filter((r) => name === undefined || r.name === name);
      if (found.length !== 1) {
        throw new Error(`expected one ${type}${name ? ` named ${name}` : ''}, found ${found.length}`);
      }
      return found[0];
    },
    k8sObjects: () =>
      resources
        .filter((r) => r.type.startsWith('kubernetes:') && r.custom !== false && !r.type.startsWith('pulumi:'))
        .map((r) => r.inputs),
  };
}

/** Pulumi type tokens of the resources the tests look up. */
export const T = {
  cluster: 'digitalocean:index/kubernetesCluster:KubernetesCluster',
  nodePool: 'digitalocean:index/kubernetesNodePool:KubernetesNodePool',
  registry: 'digitalocean:index/containerRegistry:ContainerRegistry',
  certificate: 'digitalocean:index/certificate:Certificate',
  dnsRecord: 'digitalocean:index/dnsRecord:DnsRecord',
  credentials: 'digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials',
  image: 'docker:index/image:Image',
  provider: 'pulumi:providers:kubernetes',
  deployment: 'kubernetes:apps/v1:Deployment',
  service: 'kubernetes:core/v1:Service',
  pvc: 'kubernetes:core/v1:PersistentVolumeClaim',
  secret: 'kubernetes:core/v1:Secret',
  netpol: 'kubernetes:networking.k8s.io/v1:NetworkPolicy',
  pdb: 'kubernetes:policy/v1:PodDisruptionBudget',
  database: 'digitalocean:index/databaseCluster:DatabaseCluster',
  databaseFirewall: 'digitalocean:index/databaseFirewall:DatabaseFirewall',
  valkeyConfig: 'digitalocean:index/databaseValkeyConfig:DatabaseValkeyConfig',
  stackReference: 'pulumi:pulumi:StackReference',
};

/** Resource options as the program declared them, by resource name (Pulumi mocks do not see options). */
export interface RecordedOptions {
  type: string;
  protect?: boolean;
  ignoreChanges?: string[];
  deleteBeforeReplace?: boolean;
  dependsOn: string[];
}

/**
 * A transformation to pass as `createStack(cfg, { transformations: [rec.transformation] })`:
 * components hand it to their children, and it records each resource's options.
 */
export function optionsRecorder() {
  const byName = new Map<string, RecordedOptions>();
  const transformation: pulumi.ResourceTransformation = ({ type, name, opts }) => {
    const deps = opts.dependsOn === undefined ? [] : Array.isArray(opts.dependsOn) ? opts.dependsOn : [opts.dependsOn];
    byName.set(name, {
      type,
      protect: opts.protect,
      ignoreChanges: opts.ignoreChanges,
      deleteBeforeReplace: (opts as pulumi.CustomResourceOptions).deleteBeforeReplace,
      dependsOn: deps.map((d) => ((d as any).__name as string) ?? '?'),
    });
    return undefined;
  };
  const of = (name: string): RecordedOptions => {
    const o = byName.get(name);
    if (!o) throw new Error(`no resource named ${name}; recorded: ${[...byName.keys()].join(', ')}`);
    return o;
  };
  return { transformation, of, byName };
}
