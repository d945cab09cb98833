#!/usr/bin/env node
// The image's build stage (app/Dockerfile) type-checks and compiles the service. Beyond the
// service's runtime libraries (which bring their own type declarations) that takes
// TypeScript and the type packages for Node and Express 5. This writes into <dir> a
// package.json and a package-lock.json holding exactly those and what they depend on,
// copied from the repository's lockfile (versions, tarball URLs, integrity), so that
// `npm ci` there installs the bytes `npm ci` at the root would, checked, and nothing else.
//
//   node image-toolchain.cjs <the repository's package-lock.json> <dir>
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** What compiling app/src takes besides the runtime libraries. */
const TOOLCHAIN = ['typescript', '@types/node', '@types/express'];

function fail(message) {
  process.stderr.write(`image-toolchain: ${message}\n`);
  process.exit(1);
}

const [lockFile, dir] = process.argv.slice(2);
if (!lockFile || !dir) fail('usage: node image-toolchain.cjs <package-lock.json> <dir>');
const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
if (!(lock.lockfileVersion >= 2) || !lock.packages) fail(`${lockFile} is not a v2/v3 lockfile`);

/** The lockfile key of the copy of `name` that the package at `from` loads: npm's node_modules lookup upwards. */
function locate(name, from) {
  for (let at = from; ;) {
    const key = `${at ? `${at}/` : ''}node_modules/${name}`;
    if (lock.packages[key]) return key;
    if (!at) return undefined;
    const nested = at.lastIndexOf('/node_modules/');
    at = nested < 0 ? '' : at.slice(0, nested);
  }
}

const packages = {};
const queue = TOOLCHAIN.map((name) => locate(name, '') ?? fail(`${name} is not in ${lockFile}`));
while (queue.length > 0) {
  const key = queue.shift();
  if (packages[key]) continue;
  // dev/devOptional/peer describe the repository's tree, not this one: npm works them out again.
  const { dev, devOptional, peer, ...entry } = lock.packages[key];
  packages[key] = entry;
  const optional = { ...entry.optionalDependencies };
  for (const [name, meta] of Object.entries(entry.peerDependenciesMeta ?? {})) if (meta.optional) optional[name] = '';
  const wanted = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies };
  for (const name of Object.keys(wanted)) {
    const found = locate(name, key);
    if (found) queue.push(found);
    else if (!(name in optional)) fail(`${key} needs ${name}, which ${lockFile} does not hold`);
  }
}

const dependencies = Object.fromEntries(TOOLCHAIN.map((name) => [name, packages[`node_modules/${name}`].version]));
const name = 'doks-chat-image-toolchain';
const sorted = Object.fromEntries(
  Object.keys(packages)
    .sort()
    .map((key) => [key, packages[key]]),
);
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name, private: true, dependencies }, null, 2)}\n`);
fs.writeFileSync(
  path.join(dir, 'package-lock.json'),
  `${JSON.stringify({ name, lockfileVersion: lock.lockfileVersion, requires: true, packages: { '': { name, dependencies }, ...sorted } }, null, 2)}\n`,
);
process.stdout.write(
  `image-toolchain: ${Object.keys(packages).length} packages (${Object.entries(dependencies)
    .map(([n, v]) => `${n}@${v}`)
    .join(', ')} and their dependencies) from ${lockFile}\n`,
);
