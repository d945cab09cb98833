/**
 * The chat image: built from app/Dockerfile and pushed to DigitalOcean Container Registry,
 * or a prebuilt reference given in the config.
 */
import * as digitalocean from '@pulumi/digitalocean';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import * as path from 'node:path';
import type { RegistryConfig } from './config';
import { requireDockerDaemon } from './docker-daemon';

/** DOKS worker nodes are linux/amd64, whatever machine runs `pulumi up` (e.g. Apple Silicon). */
export const NODE_PLATFORM = 'linux/amd64';
/** The repository inside the registry. */
export const IMAGE_REPOSITORY = 'chat';

/**
 * The tag a stack pushes its builds under: the stack's instance name (`chat-<stack>`), so
 * stacks that share a registry never retag each other's image.
 *
 * With one shared tag (`chat:latest`, as before) each stack's push moved the tag, and the
 * manifest the other stack's pods run became untagged; a registry garbage collection that
 * includes untagged manifests then deleted it, and that stack's next pod start failed to
 * pull. Under a tag per stack, a push untags only that stack's previous build, which its pods
 * no longer run once the rollout that follows has finished (they run the new digest). Not a
 * tag per build: pods already pin each build by digest (imageRef), and keeping every build
 * tagged would keep every build's layers, which a Starter registry's 500 MiB does not hold
 * for long (infra/README.md, "Registry storage and garbage collection").
 */
export function imageTag(instance: string): string {
  return instance;
}

export type ChatImageArgs =
  | { prebuilt: string }
  | {
      registry: RegistryConfig;
      /** The stack's instance name (`chat-<stack>`): the tag its builds are pushed under (imageTag). */
      instance: string;
      /** The repository root: the Docker build context (app/Dockerfile copies from it). */
      repoRoot?: string;
      /**
       * Resolves when a Docker daemon answers, or fails saying what to do (start Docker, or set
       * chat:image). The build waits for it, so that message comes before the Docker provider's.
       */
      dockerDaemon?: () => Promise<void>;
    };

/** `{"auths":{"registry.digitalocean.com":{"auth":"base64(user:password)"}}}` → login for the push. */
export function registryLogin(dockerCredentials: string): { server: string; username: string; password: string } {
  const parsed = JSON.parse(dockerCredentials) as { auths?: Record<string, { auth?: string }> };
  const [server, entry] = Object.entries(parsed.auths ?? {})[0] ?? [];
  if (!server || !entry?.auth) throw new Error('DigitalOcean returned registry credentials without an auths entry');
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return { server, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Build context and Dockerfile, relative to the working directory when possible so state does not hold machine paths. */
export function buildPaths(repoRoot: string, cwd = process.cwd()): { context: string; dockerfile: string } {
  const rel = path.relative(cwd, repoRoot);
  const context = rel === '' ? '.' : path.isAbsolute(rel) ? repoRoot : rel;
  // The docker provider resolves `dockerfile` against the working directory, not the context.
  return { context, dockerfile: path.join(context, 'app', 'Dockerfile') };
}

export class ChatImage extends pulumi.ComponentResource {
  /** What pods run: a digest reference for built images, so every new build rolls the pods. */
  readonly imageRef: pulumi.Output<string>;
  /** e.g. registry.digitalocean.com/doks-chat-x1y2z3, when a registry is used. */
  readonly registryEndpoint?: pulumi.Output<string>;
  readonly registryName?: pulumi.Output<string>;
  /** `{"auths": ...}` read-only credentials for the cluster to pull with (secret). */
  readonly pullCredentials?: pulumi.Output<string>;

  constructor(name: string, args: ChatImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('doks-chat:infra:Image', name, {}, opts);

    if ('prebuilt' in args) {
      this.imageRef = pulumi.output(args.prebuilt);
      this.registerOutputs({ imageRef: this.imageRef });
      return;
    }

    let registryName: pulumi.Output<string>;
    let endpoint: pulumi.Output<string>;
    // Started now, awaited by the build below: a missing daemon stops the program with our message.
    const daemonReady = pulumi.output((args.dockerDaemon ?? requireDockerDaemon)());

    if (args.registry.mode === 'existing') {
      // Starter and Basic allow one registry per account, so a second stack pushes to the first's.
      const existing = digitalocean.getContainerRegistryOutput({ name: args.registry.name }, { parent: this });
      registryName = existing.name;
      endpoint = existing.endpoint;
    } else {
      // Registry names are global across DigitalOcean, so the default carries a random suffix.
      // name and region are ForceNew (digitalocean/terraform-provider-digitalocean
      // digitalocean/registry/resource_container_registry.go). Pulumi would create the new
      // registry before deleting the old, and Starter and Basic allow one registry per account,
      // so that create fails: delete first. The images go with the old registry; the build
      // below pushes to the new one and the pods roll onto it.
      const wanted =
        args.registry.name ??
        pulumi.interpolate`doks-chat-${
          new random.RandomString('registry-suffix', { length: 6, special: false, upper: false }, { parent: this })
            .result
        }`;
      const registry = new digitalocean.ContainerRegistry(
        'registry',
        { name: wanted, subscriptionTierSlug: args.registry.tier, region: args.registry.region },
        { parent: this, deleteBeforeReplace: true },
      );
      registryName = registry.name;
      endpoint = registry.endpoint;
    }

    const pushCredentials = new digitalocean.ContainerRegistryDockerCredentials(
      'push-credentials',
      { registryName, write: true },
      { parent: this },
    );
    const pullCredentials = new digitalocean.ContainerRegistryDockerCredentials(
      'pull-credentials',
      { registryName, write: false },
      { parent: this },
    );
    const login = pushCredentials.dockerCredentials.apply(registryLogin);

    const paths = buildPaths(args.repoRoot ?? path.resolve(__dirname, '..'));
    const image = new docker.Image(
      'chat-image',
      {
        imageName: pulumi
          .all([endpoint, daemonReady])
          .apply(([e]) => `${e}/${IMAGE_REPOSITORY}:${imageTag(args.instance)}`),
        build: { context: paths.context, dockerfile: paths.dockerfile, platform: NODE_PLATFORM },
        registry: {
          server: login.server,
          username: login.username,
          password: pulumi.secret(login.password),
        },
      },
      { parent: this },
    );

    this.imageRef = image.repoDigest;
    this.registryEndpoint = endpoint;
    this.registryName = registryName;
    this.pullCredentials = pulumi.secret(pullCredentials.dockerCredentials);
    this.registerOutputs({ imageRef: this.imageRef, registryEndpoint: this.registryEndpoint });
  }
}
