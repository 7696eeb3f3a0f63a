// Loads the native addon (Node-only): native/lib/genlab_native.node, which `npm install` builds
// with node-gyp when a C++ compiler is present (scripts/build-native.js). Loading is synchronous
// and happens once; when the file is missing or does not load, nativeStatus() says why and the
// registry uses the wasm backend.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type NativeIsa = 'portable' | 'avx2' | 'avx512' | 'amx';

export interface NativeFeatures {
  avx2: boolean;
  avx512: boolean;
  avx512bf16: boolean;
  /** Measured vdpbf16ps flops/s over fp32 FMA flops/s on this core (0 without AVX512-BF16). */
  avx512bf16Speedup: number;
  /** AMX-TILE and AMX-BF16 reported by cpuid. */
  amxHardware: boolean;
  /** ... and the kernel granted this process the tile state (arch_prctl). */
  amx: boolean;
  amxStatus: string;
  /** Instruction sets this machine runs, slowest first. */
  isas: NativeIsa[];
  cores: number;
}

/** The addon's exports (native/src/addon.cc). */
export interface NativeAddon {
  features(): NativeFeatures;
  /** Kernel names in id order (native/src/kernels.gen.h). */
  kernelNames(): string[];
  /** KERNEL_SPEC_HASH of the spec the addon was built from. */
  specHash(): number;
  /**
   * A device computing on `memory` (allocated by JavaScript at the device's full reserved size; it
   * never moves). Element 0 lies baseOffset bytes into it, the args block argsOffset bytes after that.
   */
  create(isa: number, threads: number, bf16: number, splitAll: boolean, memory: ArrayBuffer): {
    id: number;
    handle: object;
    baseOffset: number;
    argsOffset: number;
  };
  /** Faults the pages of bytes [from, to) after element 0 in at once; false where the OS cannot. */
  prefault(id: number, fromByte: number, toByte: number): boolean;
  run(id: number, kernel: number): number;
  configure(id: number, threads: number, bf16: number): void;
}

export interface NativeStatus {
  available: boolean;
  /** Why the addon is unavailable (empty when it loaded). */
  reason: string;
  path: string;
  addon: NativeAddon | null;
  features: NativeFeatures | null;
}

// src/backend/native/ and dist/backend/native/ are both three levels below the package root.
const defaultPath = fileURLToPath(new URL('../../../native/lib/genlab_native.node', import.meta.url));

let status: NativeStatus | null = null;

/** Whether the native backend can run here, and the loaded addon when it can. */
export function nativeStatus(): NativeStatus {
  if (status) return status;
  const path = process.env['GENLAB_NATIVE_ADDON'] || defaultPath;
  if (process.platform !== 'linux') {
    status = { available: false, reason: `the native backend supports Linux only (this is ${process.platform})`, path, addon: null, features: null };
  } else if (!existsSync(path)) {
    status = { available: false, reason: `${path} is not built (run \`npm run build:native\`; it needs a C++ compiler)`, path, addon: null, features: null };
  } else {
    try {
      const addon = createRequire(import.meta.url)(path) as NativeAddon;
      status = { available: true, reason: '', path, addon, features: addon.features() };
    } catch (err) {
      status = { available: false, reason: `${path} does not load: ${(err as Error).message.split('\n')[0]}`, path, addon: null, features: null };
    }
  }
  return status;
}
