/**
 * `pulumi preview/up/destroy` of a stack that builds the image needs a Docker daemon: the
 * program checks where pulumi-docker looks and, when nothing answers, says what to do.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dockerSockets, pingDocker, requireDockerDaemon } from '../docker-daemon';
import { loadConfig } from '../config';
import { ChatImage } from '../image';
import { createStack } from '../stack';
import { fakeDockerDaemon, runProgram, T } from './harness';

const home = '/home/u';

describe('where the Docker provider looks for the daemon (pulumi-docker configureDockerClient)', () => {
  it('by default: /var/run/docker.sock, then the Docker Desktop sockets in the home directory', () => {
    expect(dockerSockets({ home, platform: 'linux' })).toEqual([
      '/var/run/docker.sock',
      '/home/u/.docker/run/docker.sock',
      '/home/u/.docker/desktop/docker.sock',
    ]);
  });

  it('DOCKER_HOST first, still falling back to the home sockets; docker:host alone, with no fallback', () => {
    expect(dockerSockets({ envHost: 'unix:///run/user/1000/docker.sock', home, platform: 'darwin' })?.[0]).toBe(
      '/run/user/1000/docker.sock',
    );
    expect(dockerSockets({ envHost: 'unix:///x.sock', home, platform: 'linux' })).toHaveLength(3);
    expect(
      dockerSockets({ configuredHost: 'unix:///y.sock', envHost: 'unix:///x.sock', home, platform: 'linux' }),
    ).toEqual(['/y.sock']);
  });

  it('a daemon over tcp, ssh or a Windows pipe is left to the provider to check', () => {
    expect(dockerSockets({ envHost: 'tcp://10.0.0.5:2376', home, platform: 'linux' })).toBeUndefined();
    expect(dockerSockets({ configuredHost: 'ssh://me@builder', home, platform: 'linux' })).toBeUndefined();
    expect(dockerSockets({ home, platform: 'win32' })).toBeUndefined();
  });
});

describe('requireDockerDaemon', () => {
  let emptyHome: string;
  beforeEach(() => {
    emptyHome = fs.mkdtempSync(path.join(os.tmpdir(), 'no-docker-home-'));
  });
  afterEach(() => fs.rmSync(emptyHome, { recursive: true, force: true }));

  it('passes when a daemon answers /_ping', async () => {
    const socket = await fakeDockerDaemon();
    expect(await pingDocker(socket)).toBe(true);
    await expect(
      requireDockerDaemon({ envHost: `unix://${socket}`, home: emptyHome, platform: 'linux' }),
    ).resolves.toBeUndefined();
  });

  it('otherwise fails naming every socket it tried and the two ways out: start Docker, or set chat:image', async () => {
    const gone = path.join(emptyHome, 'docker.sock');
    const err = await requireDockerDaemon({ envHost: `unix://${gone}`, home: emptyHome, platform: 'linux' }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(
      `no Docker daemon answers at unix://${gone}, unix://${emptyHome}/.docker/run/docker.sock`,
    );
    expect(err.message).toMatch(/Start Docker/);
    expect(err.message).toContain('pulumi config set chat:image <registry>/<repository>:<tag>');
    expect(err.message).toMatch(/destroy/);
  });
});

describe('the program', () => {
  it('with chat:image, needs no Docker daemon at all', async () => {
    const r = await runProgram(
      'stateless',
      () => {
        // Nothing answers here; a prebuilt image must not care.
        process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
        return createStack(loadConfig()) as unknown as Record<string, unknown>;
      },
      { 'chat:image': 'ghcr.io/example/chat:1.2.3' },
    );
    expect(r.byType(T.image)).toHaveLength(0);
  });

  it('builds only after the daemon check: the image name waits for it', async () => {
    let checked = 0;
    const r = await runProgram('stateless', () => {
      const image = new ChatImage('image', {
        registry: { mode: 'create', tier: 'starter' },
        instance: 'chat-stateless',
        dockerDaemon: () => {
          checked++;
          return Promise.resolve();
        },
      });
      return { image: image.imageRef };
    });
    expect(checked).toBe(1);
    expect(r.one(T.image).inputs.imageName).toBe('registry.digitalocean.com/doks-chat-x1y2z3/chat:chat-stateless');
  });
});
