// The native backend (Node-only): C++ kernels with runtime dispatch on the CPU's instruction sets
// (AMX-BF16, AVX-512, AVX2+FMA, portable), a native thread pool, and a device memory the addon
// maps itself: a 4 GiB reservation committed as it grows, so the kernels keep one base pointer
// and JavaScript sees the same bytes through external ArrayBuffers, without copies.
//
// Precision: 'fp32' runs every matmul in fp32. 'bf16' rounds matmul operands to bfloat16 and
// accumulates in fp32 (mixed precision: weights, gradients, optimizer state and every other
// kernel stay fp32). The bf16 products run on AMX tiles when the CPU has them and the OS grants
// them, else on AVX512-BF16 (vdpbf16ps), else emulated (operands rounded, fp32 FMA: the same
// products, on any CPU).

import { availableParallelism } from 'node:os';
import type { BackendParts, DeviceMemory } from '../device.ts';
import { KERNEL_NAMES } from '../kernels.gen.ts';
import { checkSpecHash } from '../kernels.ts';
import { nativeStatus, type NativeAddon, type NativeFeatures, type NativeIsa } from './native-addon.ts';
import { createNativeKernels } from './native-kernels.ts';

export type Precision = 'fp32' | 'bf16';
export type Bf16Kernel = 'emulated' | 'avx512bf16' | 'amx' | 'amx-emulated';

const ISA_IDS: Record<NativeIsa, number> = { portable: 0, avx2: 1, avx512: 2, amx: 3 };
const BF16_IDS: Record<Bf16Kernel, number> = { emulated: 1, avx512bf16: 2, amx: 3, 'amx-emulated': 4 };
const ISA_ORDER: NativeIsa[] = ['portable', 'avx2', 'avx512', 'amx'];

export interface NativeBackendOptions {
  /** Threads the kernels use, the calling thread included (default: all cores). */
  threads?: number;
  /** Instruction set (default: the best this machine runs, or $GENLAB_NATIVE_ISA). */
  isa?: NativeIsa;
  /** Matmul operand precision (default 'fp32'). */
  precision?: Precision;
  /** Which bf16 GEMM runs when precision is 'bf16' (default: the fastest available). */
  bf16Kernel?: Bf16Kernel;
  /** Split every call across the threads, however small (tests of the threaded paths). */
  splitAll?: boolean;
}

export type NativeBackendParts = BackendParts & {
  isa: NativeIsa;
  precision: Precision;
  /** The bf16 GEMM in use when precision is 'bf16'. */
  bf16Kernel: Bf16Kernel;
  features: NativeFeatures;
  /** Switches matmul precision for the calls that follow (per op: switch, call, switch back). */
  setPrecision(p: Precision): void;
};

const PAGE = 65536;
/** Elements below the heap: element 0 (never handed out) and the args block (bytes 64..576). */
const HEAP_BASE = 256;

function loadAddon(): { addon: NativeAddon; features: NativeFeatures } {
  const st = nativeStatus();
  if (!st.addon || !st.features) throw new Error(`the native backend is unavailable: ${st.reason}`);
  checkAddonSpec(st.path, st.addon);
  return { addon: st.addon, features: st.features };
}

/** Refuses an addon built from another kernel spec (see checkSpecHash). */
export function checkAddonSpec(path: string, addon: Pick<NativeAddon, 'kernelNames' | 'specHash'>): void {
  const artifact = `the native addon at ${path}`;
  const names = addon.kernelNames();
  if (names.length !== KERNEL_NAMES.length || names.some((n, i) => n !== KERNEL_NAMES[i])) {
    throw new Error(`${artifact} was built from another kernel spec (its kernel list differs); run \`npm run build:native\``);
  }
  checkSpecHash(artifact, typeof addon.specHash === 'function' ? addon.specHash() : null, 'npm run build:native');
}

/** The best instruction set this machine runs ($GENLAB_NATIVE_ISA may pick a lower one). */
export function defaultIsa(features: NativeFeatures): NativeIsa {
  const env = process.env['GENLAB_NATIVE_ISA'] as NativeIsa | undefined;
  if (env) {
    if (!ISA_ORDER.includes(env)) throw new Error(`GENLAB_NATIVE_ISA='${env}' is not one of ${ISA_ORDER.join(', ')}`);
    return env;
  }
  return features.isas[features.isas.length - 1] ?? 'portable';
}

/** The instruction set a backend runs: the one asked for (or the default) if this machine runs it. */
export function chooseIsa(requested: NativeIsa | undefined, features: NativeFeatures): NativeIsa {
  const isa = requested ?? defaultIsa(features);
  if (!features.isas.includes(isa)) {
    const why = isa === 'amx' ? ` (AMX: ${features.amxStatus})` : '';
    throw new Error(`createNativeBackend: this machine does not run the '${isa}' kernels${why}; available: ${features.isas.join(', ')}`);
  }
  return isa;
}

/**
 * The fastest bf16 GEMM for an instruction set on this machine: AMX when granted; vdpbf16ps only
 * where it measured faster than fp32 FMA (on some CPUs it runs at a fraction of the FMA rate);
 * else the emulation, which runs at the fp32 speed.
 */
export function defaultBf16Kernel(isa: NativeIsa, features: NativeFeatures): Bf16Kernel {
  if (isa === 'amx' && features.amx) return 'amx';
  if ((isa === 'avx512' || isa === 'amx') && features.avx512bf16 && features.avx512bf16Speedup > 1.1) return 'avx512bf16';
  return 'emulated';
}

export function createNativeBackend(opts: NativeBackendOptions = {}): NativeBackendParts {
  const { addon, features } = loadAddon();
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new Error(`createNativeBackend: threads must be an integer in [1, 64], got ${opts.threads}`);
  }
  const isa = chooseIsa(opts.isa, features);
  let precision: Precision = opts.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`createNativeBackend: precision must be 'fp32' or 'bf16', got '${String(precision)}'`);
  const bf16Kernel = opts.bf16Kernel ?? defaultBf16Kernel(isa, features);
  if (bf16Kernel === 'amx' && isa !== 'amx') throw new Error(`createNativeBackend: the AMX bf16 kernel needs isa 'amx', got '${isa}'`);
  if (bf16Kernel === 'avx512bf16' && !(features.avx512bf16 && (isa === 'avx512' || isa === 'amx'))) {
    throw new Error(`createNativeBackend: the avx512bf16 kernel needs an AVX512-BF16 CPU and isa 'avx512' or 'amx'`);
  }
  const bf16Id = (p: Precision): number => (p === 'bf16' ? BF16_IDS[bf16Kernel] : 0);

  const ctx = addon.create(ISA_IDS[isa], threads, bf16Id(precision), opts.splitAll ?? false, 16 * PAGE);
  // The handle keeps the native context alive as long as this backend (and its kernels) are.
  const handle = ctx.handle;
  const memory: DeviceMemory & { buffer: ArrayBuffer } = {
    buffer: ctx.buffer,
    grow(deltaPages: number): number {
      const old = this.buffer.byteLength / PAGE;
      this.buffer = addon.grow(ctx.id, deltaPages);
      return old;
    },
  };
  const kernels = createNativeKernels({
    addon,
    id: ctx.id,
    args: new Float64Array(ctx.buffer, ctx.argsOffset, 64),
    size: () => memory.buffer.byteLength / 4,
    handle,
  });

  const parts: NativeBackendParts = {
    name: 'native',
    memory,
    kernels,
    heapBase: HEAP_BASE,
    threads,
    isa,
    precision,
    bf16Kernel,
    features,
    setThreads(n: number): void {
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`setThreads: expected an integer in [1, 64], got ${n}`);
      addon.configure(ctx.id, n, bf16Id(precision));
      parts.threads = n;
    },
    setPrecision(p: Precision): void {
      if (p !== 'fp32' && p !== 'bf16') throw new Error(`setPrecision: expected 'fp32' or 'bf16', got '${String(p)}'`);
      addon.configure(ctx.id, parts.threads, bf16Id(p));
      precision = p;
      parts.precision = p;
    },
    async close(): Promise<void> {
      // Nothing to stop: the thread pool is shared by every native device, and the memory is
      // unmapped once the kernels, the device and every view of it are garbage-collected.
    },
  };
  return parts;
}
