// Emits the native side: the TypeScript wrappers that check pointers against the memory and
// write the args block (src/backend/native/native-kernels.gen.ts), the C++ ids, names and enums
// (native/src/kernels.gen.h) and the per-ISA dispatch table (native/src/k_table.cc).

import type { ArgSpec } from '../../src/backend/kernel-spec.ts';
import { HEADER, countName, cppFn, docComment, hex, implementedBy, upperSnake, wireArg, wrap, type Kernel, type Model } from './model.ts';
import { apiImports, params, prologue } from './wasm.ts';

function bounds(k: Kernel, a: ArgSpec): string {
  if (a.kind !== 'ptr' || a.extent === undefined) return '';
  const check = `inside('${k.name}', ${a.name}, ${a.extent}, '${a.label ?? a.name}');`;
  return a.optional ? `      if (${a.name} !== 0) ${check}\n` : `      ${check}\n`;
}

function wrapper(model: Model, k: Kernel): string {
  if (!implementedBy(k, 'native')) return `    ${k.name}() {\n      throw notImplemented('${k.name}', 'native');\n    },\n`;
  if (!k.nativeAuto) return `    ${k.name}: manual.${k.name},\n`;
  let s = `    ${k.name}(${params(k)}) {\n${prologue(model, k, '      ')}`;
  for (const a of k.args) s += bounds(k, a);
  k.args.forEach((a, i) => (s += `      A[${i}] = ${wireArg(a, 1)};\n`));
  s += k.returns === 'number' ? `      return run(id, ${k.id});\n` : `      run(id, ${k.id});\n`;
  return `${s}    },\n`;
}

export function emitNativeTable(model: Model): string {
  const manual = model.kernels.filter((k) => implementedBy(k, 'native') && !k.nativeAuto).map((k) => `'${k.name}'`);
  const auto = model.kernels.filter((k) => k.nativeAuto);
  return `// ${HEADER}
//
// The native backend's kernel wrappers: check enum ids and required conditions, skip empty calls,
// check every pointer's extent against the memory (a wrong pointer would fault the process), write
// the arguments into the args block (a[0], a[1], ... of the C++ entry point) and make one addon
// call. Kernels with array or struct arguments are hand-written in native-kernels.ts.

import { ${apiImports(model, auto, 'native').join(', ')} } from '../kernels.gen.ts';

export interface NativeTableEnv {
  /** The args block the C++ kernels read. */
  A: Float64Array;
  /** The addon's run(context, kernel). */
  run: (context: number, kernel: number) => number;
  /** The context id. */
  id: number;
  /** Throws unless [ptr, ptr + count) lies inside the memory (count <= 0 always passes). */
  inside(kernel: string, ptr: number, count: number, what: string): void;
}

/** Kernels whose native wrapper is hand-written. */
${wrap('export type NativeManualKernels = Pick<Kernels, ', manual, '>;', ' |', false)}

export function nativeKernelTable(env: NativeTableEnv, manual: NativeManualKernels): Kernels {
  const { A, run, id, inside } = env;
  return {
${model.kernels.map((k) => wrapper(model, k)).join('')}  };
}
`;
}

export function emitCppHeader(model: Model): string {
  let out = `// ${HEADER}
//
// Kernel ids (the TypeScript wrappers' order), their names, and the enums the kernel bodies
// dispatch on. A body takes an enum id through with<Enum>(), which compiles it once per member
// (so a body whose \`if constexpr\` chain misses a member fails to build) and stops at an id
// outside the enum instead of computing another op.

#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace gl {

/** Hash of the kernel ABI (names, order, argument kinds, attention fields, enums); TypeScript checks it at load. */
constexpr uint32_t KERNEL_SPEC_HASH = ${hex(model.hash)}u;

enum KernelId : int {
${model.kernels.map((k) => `  K_${upperSnake(k.name)},\n`).join('')}  K_COUNT
};

/** Names in KernelId order. */
inline constexpr const char* kKernelNames[K_COUNT] = {
${model.kernels.map((k) => `    "${k.name}",\n`).join('')}};
`;
  for (const e of model.enums) {
    out += `\n${docComment(e.doc, '')}enum class ${e.name} : int { ${e.members.map((m, i) => `${m.name} = ${i}`).join(', ')} };\n`;
    out += `constexpr int ${countName(e.name)} = ${e.members.length};\n`;
  }
  out += `
/**
 * Reached when a kernel meets an enum id outside its enum. The TypeScript wrappers reject such ids
 * before calling, so only a caller that bypassed them gets here: stop rather than compute another op.
 */
[[noreturn]] inline void unknownEnum(const char* kernel, const char* enumName, int id) {
  std::fprintf(stderr, "genlab native: %s got unknown %s id %d\\n", kernel, enumName, id);
  std::abort();
}
`;
  for (const e of model.enums) {
    out += `
/** Calls f(std::integral_constant<${e.name}, op>{}) for op = id; unknownEnum() for any other id. */
template <class F>
inline decltype(auto) with${e.name}(const char* kernel, int id, F&& f) {
  switch (id) {
${e.members.map((m) => `    case (int)${e.name}::${m.name}: return f(std::integral_constant<${e.name}, ${e.name}::${m.name}>{});\n`).join('')}  }
  unknownEnum(kernel, "${e.name}", id);
}
`;
  }
  out += `\n}  // namespace gl\n`;
  return out;
}

export function emitCppTable(model: Model): string {
  const native = model.kernels.filter((k) => implementedBy(k, 'native'));
  return `// ${HEADER}
//
// The kernel table of one ISA build (compiled once per ISA), in KernelId order.

#include "simd.h"

namespace gl {
namespace GL_NS {

// Entry points of this build, defined in the k_*.cc files.
${native.map((k) => `double ${cppFn(k.name)}(Ctx*, const double*);\n`).join('')}
const KernelTable* table() {
  static const KernelTable t = {{
${model.kernels.map((k) => (implementedBy(k, 'native') ? `      ${cppFn(k.name)},\n` : `      nullptr,  // ${k.name}: no native kernel\n`)).join('')}  }};
  return &t;
}

}  // namespace GL_NS
}  // namespace gl
`;
}
