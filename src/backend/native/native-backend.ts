// The native backend (Node-only): C++ kernels with runtime dispatch on the CPU's instruction sets
// (AMX-BF16, AVX-512, AVX2+FMA, portable), a native thread pool, and one device memory that the
// kernels and JavaScript share without copies.
//
// The memory is one ArrayBuffer allocated at the most the device may use: min(16 GiB, the
// machine's RAM). An allocation that large is a reservation, not RAM: its pages stay untouched
// zero pages until written. It never moves, so the kernels keep one base pointer. The allocator
// "grows" the memory by moving a committed mark through it and faulting those pages in at once
// (prefault); a grow the free RAM cannot back fails with the sizes instead of waking the OOM
// killer. Why 16 GiB: the Device reads tensors through one Float32Array over the whole memory,
// and V8 (Node 20) makes typed arrays of at most 2^32 elements. (An external ArrayBuffer over
// memory the addon maps itself stops at 4 GiB in Node 20: Node-API makes it as a Buffer.)
//
// Decoding in bf16 keeps the fp32 weights and a bf16 copy of every matrix (6 bytes per
// parameter) plus an fp32 KV cache: Llama-3.2-1B takes ≈ 7 GiB, Llama-3.2-3B ≈ 19 GiB, over the
// limit; docs/native-backend.md (Known limits) has the arithmetic and what 3B needs.
//
// Precision: 'fp32' runs every matmul in fp32. 'bf16' rounds matmul operands to bfloat16 and
// accumulates in fp32 (mixed precision: weights, gradients, optimizer state and every other
// kernel stay fp32). The bf16 products run on AMX tiles when the CPU has them and the OS grants
// them, else on AVX512-BF16 (vdpbf16ps), else emulated (operands rounded, fp32 FMA: the same
// products, on any CPU).

import { availableParallelism, freemem, totalmem } from 'node:os';
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
  /** Most bytes the device memory may grow to (default: min(MAX_NATIVE_MEMORY_BYTES, the machine's RAM)). */
  maxMemoryBytes?: number;
  /**
   * Fault newly grown memory in at once (default true: the allocator grows only what it is about
   * to use, and one call is cheaper than a page fault per page). false leaves pages uncommitted
   * until first touched, e.g. for tests that place tensors past gigabytes they never write.
   */
  prefault?: boolean;
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
/** 2^32 float32 elements: the longest typed array V8 makes, so the Device's views cover all of it. */
export const MAX_NATIVE_MEMORY_BYTES = 2 ** 34;
/** Committed at creation. */
const INITIAL_BYTES = 16 * PAGE;
/** Room for the addon to put element 0 on a page boundary of the buffer. */
const ALIGN_SLACK = 4096;
/** Elements below the heap: element 0 (never handed out) and the args block (bytes 64..576). */
const HEAP_BASE = 256;

function loadAddon(): { addon: NativeAddon; features: NativeFeatures } {
  const st = nativeStatus();
  if (!st.addon || !st.features) throw new Error(`the native backend is unavailable: ${st.reason}`);
  checkAddonSpec(st.path, st.addon);
  // An addon from before the memory moved into a JavaScript ArrayBuffer would compute on memory of its own.
  if (typeof (st.addon as Partial<NativeAddon>).prefault !== 'function') {
    throw new Error(`the native addon at ${st.path} predates this version's device memory (it has no prefault()); run \`npm run build:native\``);
  }
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

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/**
 * Refuses a grow the memory's limit or the machine cannot serve, naming the sizes. Prefaulting
 * commits every new page at once, and on Linux a commit beyond the free RAM (there is no swap on
 * many servers) ends in the OOM killer rather than an error, so the free RAM is checked first.
 */
export function checkGrow(oldBytes: number, deltaBytes: number, maxBytes: number, why: string, prefault: boolean, freeBytes = freemem(), totalBytes = totalmem()): void {
  if (oldBytes + deltaBytes > maxBytes) throw new RangeError(`the native device memory stops at ${gib(maxBytes)} (${why})`);
  if (prefault && deltaBytes > freeBytes) {
    throw new RangeError(
      `growing it by ${gib(deltaBytes)} needs that much free RAM and this machine has ${gib(freeBytes)} available ` +
        `(of ${gib(totalBytes)}); stop programs that hold memory`,
    );
  }
}

/**
 * The device memory's ArrayBuffer, sized min(16 GiB, RAM) unless `requested`, with the slack
 * that lets the addon page-align element 0. When the OS refuses the default size (a strict
 * overcommit policy, a small address-space limit), halves it down to 256 MiB.
 */
function reserveMemory(requested: number | undefined): { buffer: ArrayBuffer; maxBytes: number; why: string } {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < INITIAL_BYTES || requested > MAX_NATIVE_MEMORY_BYTES || requested % PAGE !== 0)) {
    throw new Error(`createNativeBackend: maxMemoryBytes must be a multiple of 64 KiB in [1 MiB, 16 GiB], got ${requested}`);
  }
  const ram = Math.floor(totalmem() / PAGE) * PAGE;
  let maxBytes = requested ?? Math.min(MAX_NATIVE_MEMORY_BYTES, ram);
  let why = requested !== undefined
    ? 'the maxMemoryBytes the device was created with'
    : maxBytes === MAX_NATIVE_MEMORY_BYTES
      ? 'the most one Float32Array views, 2^32 elements'
      : `this machine's RAM`;
  for (;;) {
    try {
      return { buffer: new ArrayBuffer(maxBytes + ALIGN_SLACK), maxBytes, why };
    } catch (err) {
      const smaller = Math.floor(maxBytes / 2 / PAGE) * PAGE;
      if (requested !== undefined || smaller < 256 * 2 ** 20) {
        throw new Error(`createNativeBackend: cannot reserve ${gib(maxBytes)} of address space for the device memory (${(err as Error).message}); pass a smaller maxMemoryBytes`);
      }
      maxBytes = smaller;
      why = `the largest reservation the OS granted`;
    }
  }
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

  const { buffer, maxBytes, why } = reserveMemory(opts.maxMemoryBytes);
  const prefault = opts.prefault ?? true;
  const ctx = addon.create(ISA_IDS[isa], threads, bf16Id(precision), opts.splitAll ?? false, buffer);
  // The handle keeps the native context (and the buffer) alive as long as this backend's kernels are.
  const handle = ctx.handle;
  let committed = INITIAL_BYTES;
  if (prefault) addon.prefault(ctx.id, 0, committed);
  const memory: DeviceMemory & { buffer: ArrayBuffer } = {
    buffer,
    byteOffset: ctx.baseOffset,
    get byteLength() {
      return committed;
    },
    grow(deltaPages: number): number {
      if (!Number.isInteger(deltaPages) || deltaPages < 0) throw new RangeError(`grow: expected a whole number of pages, got ${deltaPages}`);
      const old = committed;
      checkGrow(old, deltaPages * PAGE, maxBytes, why, prefault);
      committed = old + deltaPages * PAGE;
      // The allocator grows the memory only when it is about to use it.
      if (prefault) addon.prefault(ctx.id, old, committed);
      return old / PAGE;
    },
  };
  const kernels = createNativeKernels({
    addon,
    id: ctx.id,
    args: new Float64Array(buffer, ctx.baseOffset + ctx.argsOffset, 64),
    size: () => committed / 4,
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
      // freed once the kernels, the device and every view of it are garbage-collected.
    },
  };
  return parts;
}
