#!/usr/bin/env node
// Compiles the AssemblyScript kernels (kernels/index.ts) into build/:
//   kernels-relaxed.wasm  SIMD128 + relaxed SIMD (fused multiply-add)
//   kernels-simd.wasm     SIMD128 only (mul + add), for runtimes without relaxed SIMD
// Both import one shared memory (maximum 65536 pages = 4 GiB) that every worker thread shares.
// Run by `npm run build:kernels` (and so by `npm install`, through the prepare script).

import { mkdir, rename, writeFile, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'kernels', 'index.ts');
const outDir = join(root, 'build');

const variants = [
  { file: 'kernels-relaxed.wasm', flags: ['--enable', 'simd', '--enable', 'relaxed-simd'] },
  { file: 'kernels-simd.wasm', flags: ['--enable', 'simd'] },
];

const common = [
  '-O3',
  '--noAssert',
  '--runtime', 'stub',
  '--importMemory',
  '--noExportMemory',
  '--sharedMemory',
  '--maximumMemory', '65536',
  '--enable', 'threads',
];

function fail(message) {
  console.error(`build-kernels: ${message}`);
  process.exit(1);
}

let asc;
try {
  asc = await import('assemblyscript/asc');
} catch (err) {
  fail(`cannot load the AssemblyScript compiler (${err.message}); run \`npm install\` (devDependency assemblyscript) first`);
}

await mkdir(outDir, { recursive: true });

for (const v of variants) {
  const outPath = join(outDir, v.file);
  const output = new Map();
  let log = '';
  const sink = { write: (chunk) => ((log += String(chunk)), true) };
  const args = [relative(root, entry), '--outFile', v.file, ...common, ...v.flags];
  const { error } = await asc.main(args, {
    stdout: sink,
    stderr: sink,
    baseDir: root,
    // Capture the binary instead of letting asc write it, so the file appears atomically.
    writeFile: (name, contents) => output.set(name, contents),
    readFile: async (name, baseDir) => {
      try {
        return await readFile(join(baseDir, name), 'utf8');
      } catch {
        return null;
      }
    },
  });
  if (error) fail(`compiling ${relative(root, entry)} into ${v.file} failed:\n${log || error.message}`);
  // Warnings are treated as errors: they usually flag 32/64-bit or precision mistakes.
  if (/\bWARNING\b|\bERROR\b/.test(log)) fail(`compiling ${v.file} reported problems:\n${log}`);
  const binary = output.get(v.file);
  if (!binary) fail(`the compiler produced no ${v.file} (outputs: ${[...output.keys()].join(', ') || 'none'})`);
  const tmp = `${outPath}.${process.pid}.tmp`;
  await writeFile(tmp, binary);
  await rename(tmp, outPath);
  console.log(`build-kernels: ${relative(root, outPath)} (${binary.length} bytes)`);
}
