// The wasm backend on Node: the AssemblyScript kernels (SIMD128, relaxed FMA when available) on
// one shared WebAssembly.Memory, with a worker_threads pool for the big kernels.
//
// Memory layout (bytes):
//   [module static data | shape/stride region | per-thread scratch | per-part partials | heap...]
// The Device allocator starts at the heap. Scratch holds matmul packing panels and attention
// score blocks, one slice per pool thread; partials hold per-part sums (sumSquares, layerNorm's
// gradGamma/gradBeta) that are added up after a call.

import { availableParallelism } from 'node:os';
import type { BackendParts } from '../device.ts';
import { WASM_KERNELS } from '../kernels.gen.ts';
import { checkSpecHash } from '../kernels.ts';
import { loadKernelModule, type KernelVariant } from './loader-node.ts';
import { createNodePool } from './pool-node.ts';
import { KERNEL_NAMES, MAX_WORKERS, type KernelFn } from './pool-protocol.ts';
import { WASM_ARITY } from './wasm-kernels.gen.ts';
import { ARGS_REGION_BYTES, PARTS_PER_THREAD, createWasmKernels, type WasmKernelEnv } from './wasm-kernels.ts';

export interface WasmBackendOptions {
  /** Threads the kernels use, the calling thread included (default: all cores). */
  threads?: number;
  /** Force the relaxed-SIMD build (true) or the mul+add build (false); default: detect. */
  relaxed?: boolean;
  /** Split every call across the threads, however small: only useful to test the threaded paths. */
  splitAll?: boolean;
}

export type WasmBackendParts = BackendParts & {
  /** Which build runs: 'relaxed' (fused multiply-add) or 'simd' (mul + add). */
  variant: KernelVariant;
  /** Most threads setThreads accepts (scratch is reserved per thread up front). */
  maxThreads: number;
};

const PAGE = 65536;
/** Largest head dimension the scratch is sized for (attention needs a few rows of it). */
const SCRATCH_HEAD_DIM = 4096;
/** Bytes per part for partial sums: layerNorm backward splits rows for dim <= 8192. */
const PARTIAL_BYTES = 65536;

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * The module's kernel exports in id order (undefined for kernels wasm does not implement), after
 * checking that it was built from this kernel spec and has every export the wrappers call with the
 * arity they pass: a stale module fails here, not by running the wrong kernel.
 */
export function kernelExports(ex: Record<string, unknown>, variant: KernelVariant): (KernelFn | undefined)[] {
  const artifact = `the wasm kernel module build/kernels-${variant}.wasm`;
  const hash = ex['kernelSpecHash'];
  checkSpecHash(artifact, typeof hash === 'function' ? (hash as () => number)() : null, 'npm run build:kernels');
  return KERNEL_NAMES.map((name) => {
    if (!WASM_KERNELS.includes(name)) return undefined;
    const fn = ex[name];
    if (typeof fn !== 'function') throw new Error(`${artifact} lacks the export ${name}; rebuild it with \`npm run build:kernels\``);
    const arity = WASM_ARITY[name];
    if (arity !== undefined && fn.length !== 2 + arity) {
      throw new Error(`${artifact}: ${name} takes ${fn.length - 2} arguments after (part, parts), the kernel spec passes ${arity}; fix kernels/ or the spec, then \`npm run build:kernels\``);
    }
    return fn as KernelFn;
  });
}

export async function createWasmBackend(opts: WasmBackendOptions = {}): Promise<WasmBackendParts> {
  const cores = availableParallelism();
  const threads = opts.threads ?? cores;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`createWasmBackend: threads must be a positive integer, got ${opts.threads}`);
  }
  const maxThreads = Math.min(Math.max(threads, cores, 8), MAX_WORKERS + 1);
  if (threads > maxThreads) {
    throw new Error(`createWasmBackend: at most ${maxThreads} threads are supported, got ${threads}`);
  }
  const { module, variant } = await loadKernelModule(opts.relaxed);

  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const ex = instance.exports as Record<string, unknown> & {
    init(base: number, bytes: number, slot: number, partials: number, partialBytes: number): void;
    heapBase(): number;
    matmulScratchBytes(): number;
    attentionScratchBytes(d: number): number;
    sumPartials(parts: number): number;
    layerNormReduce(parts: number, gg: number, gb: number, dim: number): void;
  };

  const argsBase = align(ex.heapBase(), 64);
  const scratchBase = align(argsBase + ARGS_REGION_BYTES, 4096);
  const scratchBytes = align(Math.max(ex.matmulScratchBytes(), ex.attentionScratchBytes(SCRATCH_HEAD_DIM)), 4096);
  const partialsBase = scratchBase + maxThreads * scratchBytes;
  const heapStart = partialsBase + maxThreads * PARTS_PER_THREAD * PARTIAL_BYTES;
  // Untouched pages cost address space, not RAM; 1 MiB more gives the heap a start.
  const pages = Math.ceil(heapStart / PAGE) + 16;
  memory.grow(pages - memory.buffer.byteLength / PAGE);
  ex.init(scratchBase, scratchBytes, 0, partialsBase, PARTIAL_BYTES);

  const fns = kernelExports(ex, variant);
  const pool = createNodePool({ module, memory, fns, scratchBase, scratchBytes, partialsBase, partialBytes: PARTIAL_BYTES, threads });
  try {
    await pool.ready();
  } catch (err) {
    await pool.close();
    throw err;
  }

  const env: WasmKernelEnv = { memory, pool, exports: ex, argsBase, scratchBytes, partialBytes: PARTIAL_BYTES, splitAll: opts.splitAll ?? false };
  const parts: WasmBackendParts = {
    name: 'wasm',
    memory,
    kernels: createWasmKernels(env),
    heapBase: heapStart / 4,
    threads,
    variant,
    maxThreads,
    setThreads(n: number): void {
      if (!Number.isInteger(n) || n < 1 || n > maxThreads) {
        throw new Error(`setThreads: expected an integer in [1, ${maxThreads}] (scratch was reserved for ${maxThreads} threads), got ${n}`);
      }
      pool.resize(n);
      parts.threads = n;
    },
    close: () => pool.close(),
  };
  return parts;
}
