#!/usr/bin/env node
// Builds the native backend (native/, a Node-API addon) with node-gyp and installs it as
// native/lib/genlab_native.node (copied then renamed, so a failed rebuild keeps the last good
// addon). Run by `npm run build:native`, and so by `npm install` through the prepare script.
//
// This script never fails the install: without Linux, a C++ compiler or Node's headers it prints
// one line saying why and exits 0, and genlab runs on the wasm backend. The full compiler output
// goes to native/build.log. GENLAB_SKIP_NATIVE=1 skips the build.

import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const logPath = join(nativeDir, 'build.log');
const target = join(nativeDir, 'lib', 'genlab_native.node');

function skip(reason) {
  console.log(`genlab: native backend not built (${reason}); genlab will use the wasm backend`);
  process.exit(0);
}

if (process.env.GENLAB_SKIP_NATIVE === '1') skip('GENLAB_SKIP_NATIVE=1');
if (process.platform !== 'linux') skip(`it supports Linux only, this is ${process.platform}`);

// npm passes its bundled node-gyp to lifecycle scripts; otherwise look next to npm.
const gypCandidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter(Boolean);
const nodeGyp = gypCandidates.find((p) => existsSync(p));
if (!nodeGyp) skip('node-gyp not found (it ships with npm)');

const cxx = process.env.CXX || 'g++';
const probe = spawnSync(cxx, ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) skip(`no working C++ compiler ('${cxx} --version' failed; install g++ or set CXX)`);

// Build offline against the headers of the running Node when they are installed with it.
const prefix = join(dirname(process.execPath), '..');
const args = [nodeGyp, 'rebuild', '--directory', nativeDir, '-j', 'max'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

console.log('genlab: building the native backend (C++, about a minute)...');
const fd = openSync(logPath, 'w');
const r = spawnSync(process.execPath, args, { cwd: nativeDir, stdio: ['ignore', fd, fd], env: process.env });
closeSync(fd);
const built = join(nativeDir, 'build', 'Release', 'genlab_native.node');
if (r.error || r.status !== 0 || !existsSync(built)) {
  skip(`the C++ build failed, see ${relative(process.cwd(), logPath)}`);
}

mkdirSync(dirname(target), { recursive: true });
const tmp = `${target}.${process.pid}.tmp`;
copyFileSync(built, tmp);
renameSync(tmp, target);
console.log(`genlab: native backend built (${relative(process.cwd(), target)})`);
