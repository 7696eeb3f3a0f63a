// Emits the wasm side: the TypeScript wrappers that check, pack and split each call
// (src/backend/wasm/wasm-kernels.gen.ts) and the AssemblyScript entry and enums
// (kernels/index.ts, kernels/enums.ts).

import { enumGuard } from './api.ts';
import { HEADER, countName, docComment, hex, implementedBy, wireArg, wrap, type Kernel, type Model } from './model.ts';

const MIN_NAME = { stream: 'STREAM', heavy: 'HEAVY', macs: 'MACS' } as const;

/** The opening checks of a generated wrapper: enum ids, required conditions, empty calls. */
export function prologue(model: Model, k: Kernel, indent: string): string {
  let s = '';
  for (const a of k.args) if (a.kind === 'enum') s += enumGuard(model, k, a, indent);
  for (const [cond, msg] of k.require ?? []) s += `${indent}if (!(${cond})) throw new Error(\`${k.name}: ${msg}\`);\n`;
  if (k.skipIf) s += `${indent}if (${k.skipIf}) return${k.returns === 'number' ? ' 0' : ''};\n`;
  return s;
}

/** What a generated wrapper file imports from kernels.gen.ts. */
export function apiImports(model: Model, auto: readonly Kernel[], backend: 'wasm' | 'native'): string[] {
  const imports: string[] = [];
  if (auto.some((k) => k.args.some((a) => a.kind === 'enum'))) imports.push('enumError');
  if (model.kernels.some((k) => !implementedBy(k, backend))) imports.push('notImplemented');
  return [...imports, 'type Kernels'];
}

export function params(k: Kernel): string {
  return k.args.map((a) => a.name).join(', ');
}

function wrapper(model: Model, k: Kernel): string {
  if (!implementedBy(k, 'wasm')) return `    ${k.name}() {\n      throw notImplemented('${k.name}', 'wasm');\n    },\n`;
  if (!k.wasmAuto) return `    ${k.name}: manual.${k.name},\n`;
  const split = k.split!;
  let s = `    ${k.name}(${params(k)}) {\n${prologue(model, k, '      ')}`;
  k.args.forEach((a, i) => (s += `      slots[${i}] = ${wireArg(a, 4)};\n`));
  const run = `pool.run(${k.id}, partsFor(${split.work}, ${MIN_NAME[split.cost]}, ${split.units}))`;
  s += k.returns === 'number' ? `      return ${run} as number;\n` : `      ${run};\n`;
  return `${s}    },\n`;
}

export function emitWasmTable(model: Model): string {
  const manual = model.kernels.filter((k) => implementedBy(k, 'wasm') && !k.wasmAuto).map((k) => `'${k.name}'`);
  const auto = model.kernels.filter((k) => k.wasmAuto);
  const costs = [...new Set(auto.map((k) => k.split!.cost))].sort();
  const imports = apiImports(model, auto, 'wasm');
  return `// ${HEADER}
//
// The wasm backend's kernel wrappers: check enum ids and required conditions, skip empty calls,
// write the arguments into the pool's slots (pointers as byte addresses) and run the export cut
// into as many parts as the work is worth. Kernels whose arguments need more (shape coalescing,
// partial sums) are hand-written in wasm-kernels.ts and passed in as \`manual\`.

import { ${imports.join(', ')} } from '../kernels.gen.ts';
import type { ThreadPool } from './pool-protocol.ts';

export interface WasmTableEnv {
  pool: ThreadPool;
  /** Parts for \`work\` units of work that split into at most \`units\` pieces (1 below \`min\`). */
  partsFor(work: number, min: number, units: number): number;
  /** Work below which a call stays on the calling thread, per cost class of kernel-spec.ts. */
  minWork: { stream: number; heavy: number; macs: number };
}

/** Kernels whose wasm wrapper is hand-written. */
${wrap('export type WasmManualKernels = Pick<Kernels, ', manual, '>;', ' |', false)}

/** Parameters after (part, parts) of the exports the generated wrappers call (checked at load). */
export const WASM_ARITY: { readonly [name: string]: number } = {
${auto.map((k) => `  ${k.name}: ${k.args.length},\n`).join('')}};

export function wasmKernelTable(env: WasmTableEnv, manual: WasmManualKernels): Kernels {
  const { pool, partsFor } = env;
  const slots = pool.args;
${costs.map((c) => `  const ${MIN_NAME[c]} = env.minWork.${c};\n`).join('')}  return {
${model.kernels.map((k) => wrapper(model, k)).join('')}  };
}
`;
}

export function emitAsEnums(model: Model): string {
  let out = `// ${HEADER}
//
// The enums the kernel bodies switch on; an id outside them must reach unreachable(), never a
// default branch that computes another op.

/** Hash of the kernel ABI this module is built from (exported as kernelSpecHash()). */
export const KERNEL_SPEC_HASH: u32 = ${hex(model.hash)};
`;
  for (const e of model.enums) {
    out += `\n${docComment(e.doc, '')}export const enum ${e.name} {\n${e.members.map((m, i) => `  ${m.name} = ${i},\n`).join('')}}\n`;
    out += `export const ${countName(e.name)}: i32 = ${e.members.length};\n`;
  }
  return out;
}

export function emitAsIndex(model: Model): string {
  const byModule = new Map<string, string[]>();
  const add = (mod: string, name: string) => byModule.set(mod, [...(byModule.get(mod) ?? []), name]);
  for (const [name, mod] of model.wasmHelpers) add(mod, name);
  for (const k of model.kernels) if (implementedBy(k, 'wasm')) add(k.as, k.name);
  const order = ['common', 'elementwise', 'rows', 'matmul', 'bf16', 'q8', 'attention'];
  const mods = [...byModule.keys()].sort((x, y) => order.indexOf(x) - order.indexOf(y));
  return `// ${HEADER}
//
// Entry of the genlab kernel module. Built twice by scripts/build-kernels.js: with relaxed SIMD
// (ASC_FEATURE_RELAXED_SIMD true: fused multiply-add) and without (mul + add), from this source.

import { KERNEL_SPEC_HASH } from './enums';

${mods.map((m) => `${wrap('export { ', byModule.get(m)!, ` } from './${m}';`)}\n`).join('')}
/** The kernel spec this module was built from; the wasm backend refuses a module whose hash differs. */
export function kernelSpecHash(): u32 {
  return KERNEL_SPEC_HASH;
}
`;
}
