// The Kernels table of the wasm backend (platform-neutral). Most wrappers are generated from the
// kernel spec (wasm-kernels.gen.ts: check, pack with pointers as byte addresses, split, run);
// this file supplies how a call is split into parts and the kernels that need more than that:
// shape/stride arrays written into a small region of the shared memory (coalesced first), and
// partial sums added up after the call.

import { checkBinaryOp, KERNEL_ID as K } from '../kernels.gen.ts';
import { kvGroupOf, MAX_DIMS, windowOf, type AttentionArgs, type Kernels } from '../kernels.ts';
import { MAX_PARTS, type ThreadPool } from './pool-protocol.ts';
import { wasmKernelTable, type WasmManualKernels } from './wasm-kernels.gen.ts';

/** Bytes of the shape/stride region: 5 arrays of MAX_DIMS i32 (attention needs 15 strides, its kv group and window). */
export const ARGS_REGION_BYTES = 256;

export interface WasmKernelEnv {
  memory: WebAssembly.Memory;
  pool: ThreadPool;
  /** Exports of the calling thread's instance (helpers the pool does not run). */
  exports: {
    sumPartials(parts: number): number;
    layerNormReduce(parts: number, gradGamma: number, gradBeta: number, dim: number): void;
    attentionScratchBytes(d: number): number;
  };
  /** Byte address of the shape/stride region (ARGS_REGION_BYTES long). */
  argsBase: number;
  /** Scratch bytes each thread owns. */
  scratchBytes: number;
  /** Bytes of each part's slice of the partials region. */
  partialBytes: number;
  /** Split every call that can be split, however small (tests use it to cover the threaded paths). */
  splitAll?: boolean;
}

// Below these amounts of work a call stays on the calling thread: waking a worker costs a few
// microseconds, so splitting only pays once a call runs for tens of microseconds. Above them a
// call is cut into PARTS_PER_THREAD parts per thread, so a thread the OS runs late leaves its
// share to the others instead of holding everyone up.
const MIN_ELEMS = 1 << 15; // streaming elementwise work (adds, copies, adamw)
const MIN_HEAVY_ELEMS = 1 << 13; // transcendental elementwise work (gelu, tanh, exp, softmax)
const MIN_MACS = 1 << 19; // multiply-adds in matmul and attention
export const PARTS_PER_THREAD = 2;

export function createWasmKernels(env: WasmKernelEnv): Kernels {
  const { pool, argsBase } = env;
  const splitAll = env.splitAll ?? false;
  const a = pool.args;
  // The region lies in the first pages, so this view stays valid when the memory grows.
  const dims = new Int32Array(env.memory.buffer, argsBase, ARGS_REGION_BYTES / 4);
  const SHAPE = 0;
  const STRIDES_A = MAX_DIMS;
  const STRIDES_B = 2 * MAX_DIMS;

  /** Parts for `work` units of work that split into at most `units` independent pieces. */
  function partsFor(work: number, min: number, units: number): number {
    const threads = pool.size;
    if ((work < min && !splitAll) || units < 2 || threads < 2) return 1;
    return Math.min(threads * PARTS_PER_THREAD, units, MAX_PARTS);
  }

  /**
   * Drops size-1 dimensions and merges neighbours that are contiguous for both operands, then
   * writes shape and strides (outermost first) into the region. Returns the dimension count.
   */
  function coalesce(kernel: string, shape: readonly number[], sa: readonly number[], sb: readonly number[]): number {
    if (shape.length > MAX_DIMS) {
      throw new Error(`${kernel}: shape has ${shape.length} dimensions, at most ${MAX_DIMS} are supported; merge dimensions first`);
    }
    if (sa.length !== shape.length || sb.length !== shape.length) {
      throw new Error(`${kernel}: strides [${sa.join(', ')}] / [${sb.join(', ')}] do not match shape [${shape.join(', ')}]; pass one stride per dimension`);
    }
    // Build innermost-first, then reverse.
    let nd = 0;
    for (let d = shape.length - 1; d >= 0; d--) {
      const len = shape[d]!;
      if (len === 1) continue;
      const x = sa[d]!;
      const y = sb[d]!;
      if (nd > 0) {
        const inner = nd - 1;
        const innerLen = dims[SHAPE + inner]!;
        if (x === dims[STRIDES_A + inner]! * innerLen && y === dims[STRIDES_B + inner]! * innerLen) {
          dims[SHAPE + inner] = innerLen * len;
          continue;
        }
      }
      dims[SHAPE + nd] = len;
      dims[STRIDES_A + nd] = x;
      dims[STRIDES_B + nd] = y;
      nd++;
    }
    if (nd === 0) {
      dims[SHAPE] = 1;
      dims[STRIDES_A] = 0;
      dims[STRIDES_B] = 0;
      return 1;
    }
    for (let i = 0, j = nd - 1; i < j; i++, j--) {
      swap(SHAPE + i, SHAPE + j);
      swap(STRIDES_A + i, STRIDES_A + j);
      swap(STRIDES_B + i, STRIDES_B + j);
    }
    return nd;
  }

  function swap(i: number, j: number): void {
    const t = dims[i]!;
    dims[i] = dims[j]!;
    dims[j] = t;
  }

  const order = new Int32Array(MAX_DIMS);

  /**
   * True when distinct indices of coalesced dimensions [from, nd) always reach distinct B (dst)
   * elements.
   */
  function injectiveB(from: number, nd: number): boolean {
    // dimensions by increasing |dst stride| (insertion sort: nd <= MAX_DIMS, no allocation)
    for (let d = from; d < nd; d++) {
      let at = d - from;
      while (at > 0 && Math.abs(dims[STRIDES_B + order[at - 1]!]!) > Math.abs(dims[STRIDES_B + d]!)) {
        order[at] = order[at - 1]!;
        at--;
      }
      order[at] = d;
    }
    // each stride must step over everything the smaller ones can reach
    let span = 0;
    for (let i = 0; i < nd - from; i++) {
      const d = order[i]!;
      const s = Math.abs(dims[STRIDES_B + d]!);
      if (s <= span) return false;
      span += (dims[SHAPE + d]! - 1) * s;
    }
    return true;
  }

  function total(shape: readonly number[]): number {
    let n = 1;
    for (const len of shape) n *= len;
    return n;
  }

  const manual: WasmManualKernels = {
    copyStrided(src, srcStrides, dst, dstStrides, shape, accumulate): void {
      const n = total(shape);
      if (n === 0) return;
      const nd = coalesce('copyStrided', shape, srcStrides, dstStrides);
      a[0] = src * 4;
      a[1] = argsBase + STRIDES_A * 4;
      a[2] = dst * 4;
      a[3] = argsBase + STRIDES_B * 4;
      a[4] = argsBase + SHAPE * 4;
      a[5] = nd;
      a[6] = accumulate ? 1 : 0;
      // Parts may only split the index space when no two indices share a destination element
      // (accumulation would race, and "last write wins" would lose its order). An outermost
      // dimension summed into one dst (a bias gradient) is walked by every part, in order, while
      // the parts split the rest.
      let parts = 1;
      a[7] = 0;
      if (injectiveB(0, nd)) {
        parts = partsFor(n, MIN_ELEMS, n >> 4);
      } else if (nd > 1 && dims[STRIDES_B] === 0 && injectiveB(1, nd)) {
        a[7] = 1;
        parts = partsFor(n, MIN_ELEMS, (n / dims[SHAPE]!) >> 4);
      }
      pool.run(K.copyStrided, parts);
    },

    binary(op, x, xStrides, y, yStrides, out, shape): void {
      checkBinaryOp('binary', op);
      const n = total(shape);
      if (n === 0) return;
      const nd = coalesce('binary', shape, xStrides, yStrides);
      a[0] = op;
      a[1] = x * 4;
      a[2] = argsBase + STRIDES_A * 4;
      a[3] = y * 4;
      a[4] = argsBase + STRIDES_B * 4;
      a[5] = out * 4;
      a[6] = argsBase + SHAPE * 4;
      a[7] = nd;
      pool.run(K.binary, partsFor(n, MIN_ELEMS, n >> 4));
    },

    layerNormBackward(x, gamma, mean, rstd, gradOut, gradX, gradGamma, gradBeta, rows, dim): void {
      if (rows <= 0 || dim <= 0) return;
      // Rows split into parts; each part's gradGamma/gradBeta sums need 2·dim floats of partials.
      const parts = dim * 8 <= env.partialBytes ? partsFor(rows * dim, MIN_HEAVY_ELEMS, rows) : 1;
      a[0] = x * 4;
      a[1] = gamma * 4;
      a[2] = mean * 4;
      a[3] = rstd * 4;
      a[4] = gradOut * 4;
      a[5] = gradX * 4;
      a[6] = gradGamma * 4;
      a[7] = gradBeta * 4;
      a[8] = rows;
      a[9] = dim;
      pool.run(K.layerNormBackward, parts);
      if (parts > 1) env.exports.layerNormReduce(parts, gradGamma * 4, gradBeta * 4, dim);
    },

    attentionForward(p: AttentionArgs, out, outStrides, lse): void {
      if (!prepareAttention('attentionForward', p, outStrides, outStrides)) return;
      a[0] = p.q * 4;
      a[1] = p.k * 4;
      a[2] = p.v * 4;
      a[3] = out * 4;
      a[4] = argsBase;
      a[5] = lse * 4;
      a[6] = p.batch;
      a[7] = p.heads;
      a[8] = p.tq;
      a[9] = p.tk;
      a[10] = p.headDim;
      a[11] = p.scale;
      a[12] = p.causalOffset;
      const pairs = p.batch * p.heads;
      const work = pairs * p.tq * keysPerQuery(p) * p.headDim;
      pool.run(K.attentionForward, partsFor(work, MIN_MACS, pairs * Math.ceil(p.tq / 4)));
    },

    attentionBackward(p: AttentionArgs, out, outStrides, lse, gradOut, gradOutStrides, gradQ, gradK, gradV): void {
      if (!prepareAttention('attentionBackward', p, outStrides, gradOutStrides)) return;
      a[0] = p.q * 4;
      a[1] = p.k * 4;
      a[2] = p.v * 4;
      a[3] = out * 4;
      a[4] = argsBase;
      a[5] = lse * 4;
      a[6] = gradOut * 4;
      a[7] = gradQ * 4;
      a[8] = gradK * 4;
      a[9] = gradV * 4;
      a[10] = p.batch;
      a[11] = p.heads;
      a[12] = p.tq;
      a[13] = p.tk;
      a[14] = p.headDim;
      a[15] = p.scale;
      a[16] = p.causalOffset;
      const pairs = p.batch * p.heads;
      const work = 2 * pairs * p.tq * keysPerQuery(p) * p.headDim;
      // Parts own whole (batch, head) pairs: their gradK/gradV rows never overlap.
      pool.run(K.attentionBackward, partsFor(work, MIN_MACS, pairs));
    },

    sumSquares(x, n): number {
      if (n <= 0) return 0;
      a[0] = x * 4;
      a[1] = n;
      const parts = partsFor(n, MIN_ELEMS, n >> 4);
      const own = pool.run(K.sumSquares, parts) as number;
      return parts > 1 ? env.exports.sumPartials(parts) : own;
    },
  };

  return wasmKernelTable({ pool, partsFor, minWork: { stream: MIN_ELEMS, heavy: MIN_HEAVY_ELEMS, macs: MIN_MACS } }, manual);

  function putStrides(kernel: string, which: number, st: readonly number[]): void {
    if (st.length !== 3) throw new Error(`${kernel}: strides must be [sb, sh, st], got [${st.join(', ')}]`);
    dims[which * 3] = st[0]!;
    dims[which * 3 + 1] = st[1]!;
    dims[which * 3 + 2] = st[2]!;
  }

  /** At most how many keys one query sees (for the split decision). */
  function keysPerQuery(p: AttentionArgs): number {
    const keys = Math.min(p.tk, p.tq + Math.max(p.causalOffset, 0));
    return p.window ? Math.min(keys, p.window) : keys;
  }

  /** Writes the 15 attention strides, the kv group and the window; false when there is nothing to compute. */
  function prepareAttention(kernel: string, p: AttentionArgs, outStrides: readonly number[], goStrides: readonly number[]): boolean {
    if (p.batch <= 0 || p.heads <= 0 || p.tq <= 0) return false;
    putStrides(kernel, 0, p.qStrides);
    putStrides(kernel, 1, p.kStrides);
    putStrides(kernel, 2, p.vStrides);
    putStrides(kernel, 3, outStrides);
    putStrides(kernel, 4, goStrides);
    // The slots after the 15 strides carry the GQA group (kernels/attention.ts kvRow) and the window.
    dims[15] = kvGroupOf(kernel, p);
    dims[16] = windowOf(kernel, p);
    const need = env.exports.attentionScratchBytes(p.headDim);
    if (need > env.scratchBytes) {
      throw new Error(`${kernel}: head dimension ${p.headDim} needs ${need} scratch bytes per thread, the wasm backend has ${env.scratchBytes}; use smaller heads`);
    }
    return true;
  }
}
