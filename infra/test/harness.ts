/**
 * Runs the Pulumi program in-process against mocks (no CLI, no cloud): loads a real
 * Pulumi.<stack>.yaml into the config, records every resource and invoke, and returns the
 * stack outputs with their values.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
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
 * Clusters that already exist in the fake account, by name, with the version they run. Empty
 * means a first `pulumi up`: the lookup fails as the data source does when nothing matches.
 */
export const liveClusters = new Map<string, { version: string }>();

function fakeCall(args: pulumi.runtime.MockCallArgs): Record<string, any> {
  switch (args.token) {
    case 'digitalocean:index/getKubernetesCluster:getKubernetesCluster': {
      const live = liveClusters.get(args.inputs.name);
      if (!live) {
        // The provider's message (datasource_kubernetes_cluster.go), as a gRPC error: the SDK
        // rejects the invoke with new Error(err.details), as it does for the engine's errors.
        const details = `invocation of ${args.token} returned an error: Unable to find cluster with name: ${args.inputs.name}`;
        throw Object.assign(new Error(details), { details });
      }
      return { id: `${args.inputs.name}-id`, name: args.inputs.name, version: live.version };
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

let fakeDocker: Promise<string> | undefined;

/**
 * A stand-in for the Docker daemon's socket that answers GET /_ping, so the program's check
 * (infra/docker-daemon.ts) passes as on a machine with Docker running. One per test process.
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
      server.unref();
      process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
      resolve(socket);
    });
  });
  return fakeDocker;
}

/**
 * Runs `program` (which declares the stack and returns its outputs) under the mocks with
 * the stack file's config plus `overrides` (undefined deletes a key).
 */
export async function runProgram(
  stack: string,
  program: () => Record<string, unknown>,
  overrides: Record<string, string | undefined> = {},
): Promise<RunResult> {
  const config = { [`digitalocean:token`]: FAKE_DO_TOKEN, ...stackConfig(stack) } as Record<string, string | undefined>;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete config[k];
    else config[k] = v;
  }
  // Docker "runs" at DOCKER_HOST, where the program looks for it before a build.
  process.env.DOCKER_HOST = `unix://${await fakeDockerDaemon()}`;
  const { resources, calls } = installMocks(stack, config as Record<string, string>);
  const declared = program();
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
