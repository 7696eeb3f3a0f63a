// Every file generated from the kernel spec, as (path relative to the package root, contents).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTENTION_FIELDS, ENUMS, KERNELS, WASM_HELPERS } from '../../src/backend/kernel-spec.ts';
import { emitApi } from './api.ts';
import { resolve, type Spec } from './model.ts';
import { emitCppHeader, emitCppTable, emitNativeTable } from './native.ts';
import { emitAsEnums, emitAsIndex, emitWasmTable } from './wasm.ts';

export interface GeneratedFile {
  path: string;
  contents: string;
}

/** The spec of src/backend/kernel-spec.ts. */
export function currentSpec(): Spec {
  return { kernels: KERNELS, enums: ENUMS, wasmHelpers: WASM_HELPERS, attentionFields: ATTENTION_FIELDS };
}

export function generateKernelFiles(spec: Spec = currentSpec()): GeneratedFile[] {
  const model = resolve(spec);
  return [
    { path: 'src/backend/kernels.gen.ts', contents: emitApi(model) },
    { path: 'src/backend/wasm/wasm-kernels.gen.ts', contents: emitWasmTable(model) },
    { path: 'src/backend/native/native-kernels.gen.ts', contents: emitNativeTable(model) },
    { path: 'kernels/enums.ts', contents: emitAsEnums(model) },
    { path: 'kernels/index.ts', contents: emitAsIndex(model) },
    { path: 'native/src/kernels.gen.h', contents: emitCppHeader(model) },
    { path: 'native/src/k_table.cc', contents: emitCppTable(model) },
  ];
}

/** The generated files whose contents under `root` differ from `files` (missing ones included). */
export function staleFiles(root: string, files: readonly GeneratedFile[]): GeneratedFile[] {
  return files.filter((f) => {
    try {
      return readFileSync(join(root, f.path), 'utf8') !== f.contents;
    } catch {
      return true;
    }
  });
}
