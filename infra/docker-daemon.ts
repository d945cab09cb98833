/**
 * Building the chat image needs a running Docker daemon, and the Docker provider says so in
 * its own words ("failed to connect to any docker daemon"). This checks first, where the
 * provider would look, and says what to do instead.
 *
 * Where the provider looks (pulumi/pulumi-docker provider/image.go configureDockerClient,
 * called with verify=true from provider/provider.go Configure, i.e. whenever the provider is
 * configured: preview, up, and destroy of a stack that holds a built image): `docker:host`
 * when set (and nowhere else); otherwise DOCKER_HOST or unix:///var/run/docker.sock, then,
 * not on Windows, ~/.docker/run/docker.sock and ~/.docker/desktop/docker.sock. It pings each.
 */
import * as http from 'node:http';
import * as os from 'node:os';
import * as pulumi from '@pulumi/pulumi';

export interface DockerHostSettings {
  /** `docker:host` from the stack config. */
  configuredHost?: string;
  /** DOCKER_HOST from the environment. */
  envHost?: string;
  home: string;
  platform: NodeJS.Platform;
}

const DEFAULT_HOST = 'unix:///var/run/docker.sock';
const USER_SOCKETS = ['.docker/run/docker.sock', '.docker/desktop/docker.sock'];

/**
 * The unix sockets the provider would try, in order, or undefined when the daemon is not
 * behind a local unix socket (tcp://, ssh://, npipe://): then the provider checks alone.
 */
export function dockerSockets(s: DockerHostSettings): string[] | undefined {
  if (s.platform === 'win32') return undefined;
  const first = s.configuredHost || s.envHost || DEFAULT_HOST;
  if (!first.startsWith('unix://')) return undefined;
  const sockets = [first.slice('unix://'.length)];
  if (!s.configuredHost) sockets.push(...USER_SOCKETS.map((p) => `${s.home.replace(/\/+$/, '')}/${p}`));
  return sockets;
}

/** Whether something answers Docker's GET /_ping on this socket. */
export function pingDocker(socketPath: string, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

export function noDockerMessage(tried: string[]): string {
  return (
    `chat:image is not set, so this stack builds the chat image with Docker, and no Docker daemon answers at ` +
    `${tried.map((t) => `unix://${t}`).join(', ')}.\n` +
    '  - Start Docker (Docker Desktop, or the docker service) and run again; for a daemon elsewhere ' +
    '(colima, a remote host) set DOCKER_HOST or `pulumi config set docker:host <url>`.\n' +
    '  - Or deploy a prebuilt image and build nothing: `pulumi config set chat:image <registry>/<repository>:<tag>`.\n' +
    'The Docker provider connects to the daemon on every preview, up and destroy of a stack that builds the image.'
  );
}

/** Resolves when a daemon answers where the provider will look; otherwise a RunError saying what to do. */
export async function requireDockerDaemon(settings?: DockerHostSettings): Promise<void> {
  const s = settings ?? {
    configuredHost: new pulumi.Config('docker').get('host'),
    envHost: process.env.DOCKER_HOST,
    home: os.homedir(),
    platform: process.platform,
  };
  const sockets = dockerSockets(s);
  if (sockets === undefined) return;
  for (const socket of sockets) {
    if (await pingDocker(socket)) return;
  }
  throw new pulumi.RunError(noDockerMessage(sockets));
}
