// Emits src/backend/kernels.gen.ts: the enums, the Kernels interface, kernel ids and the enum
// checks every backend's wrappers share.

import type { ArgSpec } from '../../src/backend/kernel-spec.ts';
import { HEADER, countName, docComment, hex, implementedBy, wrap, type Kernel, type Model } from './model.ts';

export function tsType(a: ArgSpec): string {
  switch (a.kind) {
    case 'ptr':
      return 'Ptr';
    case 'int':
    case 'u32':
    case 'float':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'enum':
      return a.enumName!;
    case 'dims':
      return 'readonly number[]';
    case 'attention':
      return 'AttentionArgs';
  }
}

function method(k: Kernel): string {
  const ret = k.returns === 'number' ? 'number' : 'void';
  const params = k.args.map((a) => `${a.name}: ${tsType(a)}`);
  const oneLine = `  ${k.name}(${params.join(', ')}): ${ret};`;
  const sig = oneLine.length <= 110 ? oneLine : `  ${k.name}(\n${params.map((p) => `    ${p},\n`).join('')}  ): ${ret};`;
  return `${docComment(k.doc, '  ')}${sig}\n`;
}

/** The statement that rejects an enum argument outside its enum (shared by the generated wrappers). */
export function enumGuard(model: Model, k: Kernel, a: ArgSpec, indent: string): string {
  const e = model.enums.find((x) => x.name === a.enumName)!;
  return `${indent}if ((${a.name} >>> 0) !== ${a.name} || ${a.name} >= ${e.members.length}) throw enumError('${k.name}', '${e.name}', ${a.name}, ${e.members.length});\n`;
}

export function emitApi(model: Model): string {
  let out = `// ${HEADER}
//
// The Kernels interface every backend implements, its enums and kernel ids. The conventions the
// kernels share (pointers, strides, accumulation) are described in kernel-types.ts.

import type { AttentionArgs, Ptr } from './kernel-types.ts';

/**
 * Hash of the kernel ABI (names, order, argument kinds, attention fields, enums); the wasm module
 * and the native addon report the one they were built from.
 */
export const KERNEL_SPEC_HASH = ${hex(model.hash)};
`;
  for (const e of model.enums) {
    out += `\n${docComment(e.doc, '')}export enum ${e.name} {\n`;
    e.members.forEach((m, i) => {
      if (m.doc) out += docComment(m.doc, '  ');
      out += `  ${m.name} = ${i},\n`;
    });
    out += `}\n\nexport const ${countName(e.name)} = ${e.members.length};\n`;
  }
  out += `\nexport interface Kernels {\n${model.kernels.map(method).join('\n')}}\n`;
  const names = model.kernels.map((k) => `'${k.name}'`);
  out += `
/** Kernel names in id order: the ids of the wasm pool protocol and of the native dispatch table. */
${wrap('export const KERNEL_NAMES = [', names, '] as const;')}

export type KernelName = (typeof KERNEL_NAMES)[number];

export const KERNEL_ID = {
${model.kernels.map((k) => `  ${k.name}: ${k.id},\n`).join('')}} as const;
`;
  for (const backend of ['wasm', 'native'] as const) {
    const list = model.kernels.filter((k) => implementedBy(k, backend)).map((k) => `'${k.name}'`);
    out += `\n/** Kernels the ${backend} backend implements (the others throw when called). */\n${wrap(`export const ${backend.toUpperCase()}_KERNELS: readonly KernelName[] = [`, list, '];')}\n`;
  }
  out += `
/** The error for an enum id outside its enum (no backend computes anything for one). */
export function enumError(kernel: string, enumName: string, id: number, count: number): Error {
  return new Error(\`\${kernel}: unknown \${enumName} id \${id}; valid ids are 0..\${count - 1} (see kernel-spec.ts)\`);
}

/** The error a kernel that a backend does not implement throws. */
export function notImplemented(kernel: string, backend: string): Error {
  return new Error(\`\${kernel} has no \${backend} kernel (kernel-spec.ts lists the backends that have one); use another backend\`);
}
`;
  for (const e of model.enums) {
    out += `
/** Throws unless id is one of ${e.name} (for hand-written wrappers; generated ones inline it). */
export function check${e.name}(kernel: string, id: number): void {
  if ((id >>> 0) !== id || id >= ${e.members.length}) throw enumError(kernel, '${e.name}', id, ${e.members.length});
}
`;
  }
  return out;
}
