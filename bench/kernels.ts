// Runs the kernel benchmark before the CLI wires it up:
//   node --import tsx bench/kernels.ts [--json] [--quick] [--threads 1,2] [--backends wasm,ref]
//     [--variants relaxed,simd] [--filter attention]

import { parseArgs } from 'node:util';
import { benchKernels } from '../src/bench/kernels.ts';
import type { KernelVariant } from '../src/backend/wasm/loader-node.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1,2' },
    backends: { type: 'string', default: 'wasm' },
    variants: { type: 'string' },
    filter: { type: 'string' },
  },
});

function list(flag: string, value: string, allowed: readonly string[]): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item)) throw new Error(`--${flag}: unknown value '${item}'; choose from ${allowed.join(', ')}`);
  }
  return items;
}

const threads = values.threads.split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--threads: expected positive integers like 1,2, got '${s}'`);
  return n;
});

await benchKernels({
  json: values.json,
  quick: values.quick,
  threads,
  backends: list('backends', values.backends, ['wasm', 'ref']) as ('wasm' | 'ref')[],
  ...(values.variants ? { variants: list('variants', values.variants, ['relaxed', 'simd']) as KernelVariant[] } : {}),
  ...(values.filter ? { filter: values.filter } : {}),
});
