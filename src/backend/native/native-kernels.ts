// The Kernels table of the native backend: each call writes its arguments into the context's
// args block (64 doubles inside the device memory) and makes one addon call, run(context,
// kernel). The native side reads the block, so no argument crosses Node-API one by one. Most
// wrappers are generated from the kernel spec (native-kernels.gen.ts); the ones here pack shape,
// stride and attention arguments into the block's fixed slots.
//
// Pointers are checked against the memory's size before the call: a wrong pointer would make a
// native kernel fault the whole process, where the wasm backend only traps.

import { checkBinaryOp, KERNEL_ID as K } from '../kernels.gen.ts';
import { kvGroupOf, MAX_DIMS, windowOf, type AttentionArgs, type Kernels, type Ptr } from '../kernels.ts';
import type { NativeAddon } from './native-addon.ts';
import { nativeKernelTable, type NativeManualKernels } from './native-kernels.gen.ts';

// Offsets of the shape and stride arrays in the args block (common.h ARG_SHAPE, ...).
const SHAPE = 8;
const STRIDES_A = 16;
const STRIDES_B = 24;

export interface NativeKernelEnv {
  addon: NativeAddon;
  id: number;
  /** The args block: 64 doubles at argsOffset bytes into the memory (which never moves). */
  args: Float64Array;
  /** Elements of the memory committed now. */
  size: () => number;
  /** The addon's context handle: the kernels keep it (and so the native memory) alive. */
  handle: object;
}

export function createNativeKernels(env: NativeKernelEnv): Kernels {
  const { addon, id } = env;
  const A = env.args;
  const run = addon.run;

  function fail(kernel: string, what: string): never {
    throw new Error(`${kernel}: ${what} reaches outside the device memory (${env.size()} elements); check the pointers and sizes passed`);
  }

  /** [ptr, ptr + count) must lie inside the memory (count 0 is always fine). */
  function inside(kernel: string, ptr: Ptr, count: number, what: string): void {
    if (count > 0 && (ptr < 0 || ptr + count > env.size() || !Number.isInteger(ptr))) fail(kernel, what);
  }

  /** Writes shape and up to two stride arrays, returning ndim; checks the spans they reach. */
  function shapes(kernel: string, shape: readonly number[], sa: readonly number[], pa: Ptr, sb: readonly number[], pb: Ptr): number {
    const nd = shape.length;
    if (nd > MAX_DIMS) throw new Error(`${kernel}: shape has ${nd} dimensions, at most ${MAX_DIMS} are supported; merge dimensions first`);
    if (sa.length !== nd || sb.length !== nd) {
      throw new Error(`${kernel}: strides [${sa.join(', ')}] / [${sb.join(', ')}] do not match shape [${shape.join(', ')}]; pass one stride per dimension`);
    }
    let loA = 0;
    let hiA = 0;
    let loB = 0;
    let hiB = 0;
    let empty = false;
    for (let d = 0; d < nd; d++) {
      const len = shape[d]!;
      A[SHAPE + d] = len;
      A[STRIDES_A + d] = sa[d]!;
      A[STRIDES_B + d] = sb[d]!;
      if (len === 0) empty = true;
      const ea = (len - 1) * sa[d]!;
      const eb = (len - 1) * sb[d]!;
      if (ea < 0) loA += ea;
      else hiA += ea;
      if (eb < 0) loB += eb;
      else hiB += eb;
    }
    if (!empty) {
      inside(kernel, pa + loA, hiA - loA + 1, 'the first operand');
      inside(kernel, pb + loB, hiB - loB + 1, 'the second operand');
    }
    return nd;
  }

  /** Elements spanned by a (b, h, t, d) operand with strides [sb, sh, st] and d contiguous. */
  function span4(b: number, h: number, t: number, d: number, s: readonly number[]): number {
    if (b === 0 || h === 0 || t === 0 || d === 0) return 0;
    return (b - 1) * s[0]! + (h - 1) * s[1]! + (t - 1) * s[2]! + d;
  }

  function attentionArgs(kernel: string, p: AttentionArgs, out: Ptr, os: readonly number[], lse: Ptr): void {
    const { batch: b, heads: h, tq, tk, headDim: d } = p;
    const group = kvGroupOf(kernel, p);
    inside(kernel, p.q, span4(b, h, tq, d, p.qStrides), 'q');
    inside(kernel, p.k, span4(b, h / group, tk, d, p.kStrides), 'k');
    inside(kernel, p.v, span4(b, h / group, tk, d, p.vStrides), 'v');
    inside(kernel, out, span4(b, h, tq, d, os), 'out');
    inside(kernel, lse, b * h * tq, 'lse');
    A[0] = p.q;
    A[1] = p.k;
    A[2] = p.v;
    for (let i = 0; i < 3; i++) {
      A[3 + i] = p.qStrides[i]!;
      A[6 + i] = p.kStrides[i]!;
      A[9 + i] = p.vStrides[i]!;
      A[20 + i] = os[i]!;
    }
    A[12] = b;
    A[13] = h;
    A[14] = tq;
    A[15] = tk;
    A[16] = d;
    A[17] = p.scale;
    A[18] = p.causalOffset;
    A[19] = out;
    A[23] = lse;
    A[31] = group; // after the backward-only slots 24..30
    A[32] = windowOf(kernel, p);
  }

  const manual: NativeManualKernels = {
    copyStrided(src, srcStrides, dst, dstStrides, shape, accumulate) {
      A[3] = accumulate ? 1 : 0;
      A[2] = shapes('copyStrided', shape, srcStrides, src, dstStrides, dst);
      A[0] = src;
      A[1] = dst;
      run(id, K.copyStrided);
    },

    binary(op, a, aStrides, b, bStrides, out, shape) {
      checkBinaryOp('binary', op);
      A[4] = shapes('binary', shape, aStrides, a, bStrides, b);
      inside('binary', out, shape.reduce((s, v) => s * v, 1), 'out');
      A[0] = op;
      A[1] = a;
      A[2] = b;
      A[3] = out;
      run(id, K.binary);
    },

    attentionForward(p, out, outStrides, lse) {
      attentionArgs('attentionForward', p, out, outStrides, lse);
      run(id, K.attentionForward);
    },

    attentionBackward(p, out, outStrides, lse, gradOut, gradOutStrides, gradQ, gradK, gradV) {
      const kernel = 'attentionBackward';
      attentionArgs(kernel, p, out, outStrides, lse);
      const { batch: b, heads: h, tq, tk, headDim: d } = p;
      inside(kernel, gradOut, span4(b, h, tq, d, gradOutStrides), 'gradOut');
      inside(kernel, gradQ, b * h * tq * d, 'gradQ');
      inside(kernel, gradK, b * h * tk * d, 'gradK');
      inside(kernel, gradV, b * h * tk * d, 'gradV');
      A[24] = gradOut;
      A[25] = gradOutStrides[0]!;
      A[26] = gradOutStrides[1]!;
      A[27] = gradOutStrides[2]!;
      A[28] = gradQ;
      A[29] = gradK;
      A[30] = gradV;
      run(id, K.attentionBackward);
    },
  };

  return nativeKernelTable({ A, run, id, inside }, manual);
}
