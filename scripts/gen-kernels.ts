#!/usr/bin/env node
// Writes the files generated from the kernel spec (src/backend/kernel-spec.ts): the TypeScript
// Kernels interface and wrappers, the AssemblyScript entry and enums, the C++ ids, enums and
// dispatch table. Run by `npm run gen:kernels` after editing the spec.
//
//   --check   write nothing; exit 1 naming every file whose committed contents differ from what
//             the spec generates (`npm run build` and the test suite run this, so a stale file
//             fails CI)

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomicSync } from '../src/util/atomic.ts';
import { generateKernelFiles, staleFiles } from './kernel-gen/generate.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--check');
if (unknown.length > 0) {
  console.error(`gen-kernels: unknown argument ${unknown[0]}; the only option is --check`);
  process.exit(2);
}
const check = args.includes('--check');

let files;
try {
  files = generateKernelFiles();
} catch (err) {
  console.error(`gen-kernels: ${(err as Error).message}`);
  process.exit(1);
}
const stale = staleFiles(root, files);
if (check) {
  if (stale.length > 0) {
    console.error(`gen-kernels: these files differ from what src/backend/kernel-spec.ts generates; run \`npm run gen:kernels\`:\n${stale.map((f) => `  ${f.path}`).join('\n')}`);
    process.exit(1);
  }
  console.log(`gen-kernels: ${files.length} generated files are up to date`);
} else {
  for (const f of stale) writeFileAtomicSync(join(root, f.path), f.contents);
  console.log(`gen-kernels: ${stale.length === 0 ? 'nothing to do' : `wrote ${stale.map((f) => f.path).join(', ')}`}`);
}
