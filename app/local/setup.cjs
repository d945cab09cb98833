#!/usr/bin/env node
// Runs before `npm start`, `npm test` and `npm run bench` (npm's pre-scripts), with no
// npm packages available yet: it makes a fresh clone runnable. It installs the npm
// packages when they are missing or stale, and the system programs the command needs
// (redis-server; chromium for the browser tests) where it can, or says exactly how.
// For the tests it also installs the Node the image runs (image-node.cjs).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const purpose = process.argv[2] || 'start';

const NEEDS = {
  // openssl: the managed emulation (--redis managed) makes its own certificate authority.
  start: ['redis-server', 'openssl'],
  bench: ['redis-server'],
  test: ['redis-server', 'openssl', 'chromium'],
};

const HOW = {
  'redis-server': 'Debian/Ubuntu: sudo apt-get install redis-server  ·  macOS: brew install redis',
  openssl: 'Debian/Ubuntu: sudo apt-get install openssl  ·  macOS: ships with the system',
  chromium: 'Debian/Ubuntu: sudo apt-get install chromium  ·  or set CHROMIUM_PATH to a Chrome/Chromium binary',
};

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function present(program) {
  if (program === 'chromium' && process.env.CHROMIUM_PATH) return fs.existsSync(process.env.CHROMIUM_PATH);
  return onPath(program);
}

function ensureNodeModules() {
  const lock = path.join(root, 'package-lock.json');
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  const stale =
    !fs.existsSync(installed) || (fs.existsSync(lock) && fs.statSync(lock).mtimeMs > fs.statSync(installed).mtimeMs);
  if (!stale) return;
  log('installing npm packages (npm ci)…');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

function ensurePrograms() {
  const missing = NEEDS[purpose].filter((p) => !present(p));
  if (missing.length === 0) return;
  const canApt = process.getuid && process.getuid() === 0 && onPath('apt-get');
  if (canApt) {
    log(`installing ${missing.join(', ')} with apt-get…`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
    const still = missing.filter((p) => !present(p));
    if (still.length === 0) return;
    missing.splice(0, missing.length, ...still);
  }
  log(
    `\`npm ${purpose === 'start' ? 'start' : purpose === 'test' ? 'test' : 'run bench'}\` needs programs that are not installed:`,
  );
  for (const p of missing) log(`  ${p}: ${HOW[p]}`);
  process.exit(1);
}

ensureNodeModules();
ensurePrograms();
if (purpose === 'test') require('./image-node.cjs').ensureImageNode();
