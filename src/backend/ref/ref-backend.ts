// The reference backend: the plain TypeScript kernels on an ordinary (non-shared) wasm memory, so
// it shares the Device allocator and tensor layout with the wasm backend.

import type { BackendParts } from '../device.ts';
import { createRefKernels } from './ref-kernels.ts';

export function createRefBackend(): BackendParts {
  // 16 pages = 1 MiB to start; the device grows it up to the wasm32 limit of 4 GiB.
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  return { name: 'ref', memory, kernels: createRefKernels(memory), heapBase: 16, threads: 1 };
}
