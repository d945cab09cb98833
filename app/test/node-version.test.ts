import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/replica-process';

/**
 * One Node from the image to the tests. The Dockerfile's base image states the version the
 * image runs (no .imageVersion: the design card fixes the root's files); the tests' second Node
 * (app/local/image-node.cjs) reads it from there.
 * `engines` states the oldest Node the code must also run on (the machines' 20), and the
 * type declarations are that Node's, so an API only newer Nodes have fails the typecheck.
 */
const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(read('app/Dockerfile'))?.[1] ?? '';
const imageVersion = /^node:(\d+\.\d+\.\d+)-/.exec(base)?.[1] ?? '';
const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS script, loaded as the tests' pre-step loads it
const imageNode = require('../local/image-node.cjs') as { version: string; SUITES: string };

describe('the Node versions', () => {
  it("the Dockerfile's base names one exact release of an LTS line (an even major), pinned by a sha256 digest", () => {
    expect(imageVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Number(imageVersion.split('.')[0]) % 2).toBe(0);
    expect(base).toMatch(new RegExp(`^node:${imageVersion.replace(/\./g, '\\.')}-alpine[\\d.]*@sha256:[0-9a-f]{64}$`));
    expect(read('app/Dockerfile')).not.toMatch(/^FROM node:/m); // every stage uses NODE_IMAGE
  });

  it('the tests run the service and live-feed suites on that release too', () => {
    expect(imageNode.version).toBe(imageVersion);
    const suites = new RegExp(imageNode.SUITES);
    for (const suite of ['service-api', 'service-live-feed', 'service-redis-outage', 'unsent-budget']) {
      expect(`${REPO_ROOT}/app/test/${suite}.test.ts`).toMatch(suites);
    }
    expect(`${REPO_ROOT}/app/test/docs.test.ts`).not.toMatch(suites);
  });

  it("engines names the oldest Node the code runs on, and @types/node is that Node's", () => {
    const oldest = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    expect(oldest).not.toBeNull();
    const [major, minor] = process.versions.node.split('.').map(Number);
    expect(major > Number(oldest![1]) || (major === Number(oldest![1]) && minor >= Number(oldest![2]))).toBe(true);
    expect(lock.packages['node_modules/@types/node'].version.split('.')[0]).toBe(oldest![1]);
    expect(Number(oldest![1])).toBeLessThan(Number(imageVersion.split('.')[0]));
  });
});
