import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { httpRequest } from '../local/http';
import {
  copies,
  copyLikeDocker,
  dockerignore,
  installedPackages,
  parseDockerfile,
  runStage,
  type Stage,
} from './helpers/dockerfile';
import { startRedis, type TestRedis } from './helpers/redis';
import { REPO_ROOT, spawnReplica } from './helpers/replica-process';
import { SERVICE_NODE_FLAGS } from '../src/node-flags';

/**
 * No Docker daemon here, so this does what app/Dockerfile does, step by step, and
 * boots the result: the build context as .dockerignore leaves it, every WORKDIR, COPY
 * and RUN of the build stage (its npm installs and tsc, for real), the runtime stage's
 * COPY lines and its exact `npm ci --omit=dev`, then the CMD. A runtime library listed only in devDependencies,
 * a file the image forgets, or an import from outside app/src fails here.
 */
describe('production install (what app/Dockerfile builds)', () => {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'app', 'Dockerfile'), 'utf8');
  const stages = parseDockerfile(dockerfile);
  const build = stages.find((s) => s.name === 'build')!;
  const runtime = stages[stages.length - 1];
  let tmp: string;
  let redis: TestRedis;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-prod-install-'));
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const runs = (stage: Stage) => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  const workdir = (stage: Stage) => stage.instructions.filter((i) => i.op === 'WORKDIR').pop()!.args;

  it('is a multi-stage build on a supported Node LTS that runs as a non-root user', () => {
    expect(build).toBeDefined();
    expect(runtime.name).not.toBe('build');
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1] ?? /^FROM (\S+)/m.exec(dockerfile)![1];
    expect(base).toMatch(/^node:(22|24)[.\w-]*alpine/);
    const user = runtime.instructions.filter((i) => i.op === 'USER').pop()?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.instructions).toContainEqual({ op: 'ENV', args: 'NODE_ENV=production' });
    expect(runtime.instructions).toContainEqual({ op: 'EXPOSE', args: '8080' });
  });

  it('boots from a clean production install and serves the page and the API', async () => {
    // 1. The build context: the repository's files (tracked and new, not ignored), minus .dockerignore.
    const ignored = dockerignore(fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8'));
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    })
      .split('\0')
      .filter((f) => f && !ignored(f) && fs.existsSync(path.join(REPO_ROOT, f)));
    const context = path.join(tmp, 'context');
    for (const f of files) copyLikeDocker(path.join(REPO_ROOT, f), path.join(context, f));
    expect(files).toContain('app/public/index.html');
    expect(
      files.some(
        (f) =>
          f.startsWith('app/test/') ||
          f.startsWith('app/bench/') ||
          f.startsWith('infra/') ||
          f.startsWith('node_modules/'),
      ),
    ).toBe(false);

    // 2. Build stage: every WORKDIR, COPY and RUN of it, for real (npm from its cache).
    const buildFs = path.join(tmp, 'build');
    runStage(build, buildFs, context);
    const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string; dev?: boolean }>;
    };
    // It installed the service's runtime libraries, and apart from them only TypeScript and
    // the type packages for Node and Express with what they need, at the lockfile's versions:
    // no test, lint or Pulumi package.
    const toolchain = path.join(buildFs, 'build');
    const service = path.join(buildFs, workdir(build));
    const isDev = (p: string) => lock.packages[`node_modules/${p}`]?.dev === true;
    expect(installedPackages(path.join(service, 'node_modules')).filter(isDev)).toEqual([]);
    const wanted = JSON.parse(fs.readFileSync(path.join(toolchain, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(wanted.dependencies).toEqual(
      Object.fromEntries(
        ['typescript', '@types/node', '@types/express'].map((p) => [p, lock.packages[`node_modules/${p}`].version]),
      ),
    );
    const extra = installedPackages(path.join(toolchain, 'node_modules'));
    expect(extra.filter((p) => !p.startsWith('@types/'))).toEqual(['typescript', 'undici-types']);
    for (const p of extra) {
      const installed = JSON.parse(
        fs.readFileSync(path.join(toolchain, 'node_modules', p, 'package.json'), 'utf8'),
      ) as { version: string };
      expect(`${p}@${installed.version}`).toBe(`${p}@${lock.packages[`node_modules/${p}`].version}`);
    }
    // It type-checks: the compiler runs without --noCheck or --noEmitOnError off.
    expect(runs(build).some((r) => /\btsc -p app\/src$/.test(r))).toBe(true);

    // 3. Runtime stage: its COPY lines (from the context and from the build stage) and its exact npm ci.
    const runFs = path.join(tmp, 'runtime');
    for (const c of copies(runtime)) {
      for (const src of c.sources) {
        const from = c.from === 'build' ? path.join(buildFs, src) : path.join(context, src);
        copyLikeDocker(from, path.join(runFs, c.dest));
      }
    }
    const appDir = path.join(runFs, workdir(runtime));
    const npmCi = runs(runtime)
      .map((r) => /npm ci[^&;]*/.exec(r)?.[0])
      .find(Boolean);
    expect(npmCi).toMatch(/--omit=dev/);
    execFileSync('npm', npmCi!.trim().split(/\s+/).slice(1), {
      cwd: appDir,
      stdio: 'pipe',
      env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
    });
    for (const devOnly of ['typescript', 'jest', 'playwright-core', '@pulumi/pulumi', 'yaml']) {
      expect(fs.existsSync(path.join(appDir, 'node_modules', devOnly))).toBe(false);
    }
    expect(fs.existsSync(path.join(appDir, 'app', 'src'))).toBe(false); // compiled JavaScript only

    // 4. CMD, from the runtime tree alone.
    const cmd = JSON.parse(runtime.instructions.filter((i) => i.op === 'CMD').pop()!.args) as string[];
    expect(cmd).toEqual(['node', ...SERVICE_NODE_FLAGS, 'dist/app/src/main.js']);
    // `npm run serve` is the same command.
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.serve).toBe(cmd.join(' '));
    const replica = await spawnReplica(
      { REDIS_URL: redis.url, NODE_ENV: 'production', REPLICA_NAME: 'from-image' },
      appDir,
    );
    try {
      const ready = await httpRequest(`${replica.url}/readyz`);
      expect([ready.status, ready.json]).toEqual([200, { status: 'ready' }]);
      const page = await httpRequest(`${replica.url}/`);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<script type="module" src="app.js"></script>');
      // The page's ES modules, each served as JavaScript (a module script needs the type).
      for (const file of ['app.js', 'verdict.js', 'render.js', 'live-feed.js', 'send.js']) {
        const res = await httpRequest(`${replica.url}/${file}`);
        expect([file, res.status, res.headers['content-type']]).toEqual([
          file,
          200,
          expect.stringMatching(/^(text|application)\/javascript/),
        ]);
      }
      const posted = await httpRequest(`${replica.url}/api/messages`, {
        method: 'POST',
        body: { author: 'ci', text: 'from the image' },
      });
      expect(posted.status).toBe(201);
      expect(posted.json.replica).toBe('from-image');
    } finally {
      expect((await replica.stop('SIGTERM')).code).toBe(0);
    }
  }, 240_000);
});
