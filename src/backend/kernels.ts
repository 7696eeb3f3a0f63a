// The kernel table every backend implements. It is the whole contract between the engine and a
// backend: `ref` (plain TypeScript) is its executable specification, `wasm` and `native` must
// agree with it. The Kernels interface and its enums are generated from kernel-spec.ts (into
// kernels.gen.ts); the conventions every kernel shares, and the types the spec refers to, are in
// kernel-types.ts. This file is what the rest of genlab imports, plus the built-artifact check.

import { KERNEL_SPEC_HASH } from './kernels.gen.ts';

export { MAX_DIMS, kvGroupOf, visibleKeys, windowOf, type AttentionArgs, type Ptr } from './kernel-types.ts';

export { BinaryOp, KERNEL_SPEC_HASH, ReduceOp, UnaryOp, type Kernels } from './kernels.gen.ts';

/**
 * Throws unless a compiled backend (the wasm module, the native addon) reports the kernel spec
 * hash this code was generated with. Built from another spec, its kernel ids, argument slots or
 * enum ids may differ from the wrappers', and a call would run another kernel or op instead of
 * failing.
 */
export function checkSpecHash(artifact: string, reported: number | null, rebuild: string): void {
  if (reported !== null && reported >>> 0 === KERNEL_SPEC_HASH) return;
  const got = reported === null ? 'reports no kernel spec hash' : `reports kernel spec hash ${hex(reported >>> 0)}`;
  throw new Error(`${artifact} was built from another kernel spec (it ${got}, this genlab expects ${hex(KERNEL_SPEC_HASH)}); run \`${rebuild}\``);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
