// The Kernels table of the native backend: each call writes its arguments into the context's
// args block (64 doubles inside the device memory) and makes one addon call, run(context,
// kernel). The native side reads the block, so no argument crosses Node-API one by one.
//
// Pointers are checked against the memory's size before the call: a wrong pointer would make a
// native kernel fault the whole process, where the wasm backend only traps.

import { MAX_DIMS, type AttentionArgs, type Kernels, type Ptr } from '../kernels.ts';
import type { NativeAddon } from './native-addon.ts';

/** Kernel ids: the order of native/src/common.h's KernelId (checked against the addon at load). */
export const NATIVE_KERNELS = [
  'fill',
  'copyStrided',
  'binary',
  'affine',
  'axpy',
  'unary',
  'unaryBackward',
  'reduce',
  'matmul',
  'embeddingForward',
  'embeddingBackward',
  'layerNormForward',
  'layerNormBackward',
  'softmaxForward',
  'softmaxBackward',
  'attentionForward',
  'attentionBackward',
  'crossEntropyForward',
  'crossEntropyBackward',
  'dropoutForward',
  'dropoutBackward',
  'adamw',
  'sumSquares',
  'packBf16',
  'matmulBf16',
] as const;

const K = Object.fromEntries(NATIVE_KERNELS.map((name, i) => [name, i])) as Record<(typeof NATIVE_KERNELS)[number], number>;

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
    inside(kernel, p.q, span4(b, h, tq, d, p.qStrides), 'q');
    inside(kernel, p.k, span4(b, h, tk, d, p.kStrides), 'k');
    inside(kernel, p.v, span4(b, h, tk, d, p.vStrides), 'v');
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
  }

  return {
    fill(out, n, value) {
      inside('fill', out, n, 'out');
      A[0] = out;
      A[1] = n;
      A[2] = value;
      run(id, K.fill);
    },

    copyStrided(src, srcStrides, dst, dstStrides, shape, accumulate) {
      A[3] = accumulate ? 1 : 0;
      A[2] = shapes('copyStrided', shape, srcStrides, src, dstStrides, dst);
      A[0] = src;
      A[1] = dst;
      run(id, K.copyStrided);
    },

    binary(op, a, aStrides, b, bStrides, out, shape) {
      A[4] = shapes('binary', shape, aStrides, a, bStrides, b);
      inside('binary', out, shape.reduce((s, v) => s * v, 1), 'out');
      A[0] = op;
      A[1] = a;
      A[2] = b;
      A[3] = out;
      run(id, K.binary);
    },

    affine(x, out, n, alpha, beta) {
      inside('affine', x, n, 'x');
      inside('affine', out, n, 'out');
      A[0] = x;
      A[1] = out;
      A[2] = n;
      A[3] = alpha;
      A[4] = beta;
      run(id, K.affine);
    },

    axpy(x, y, n, alpha) {
      inside('axpy', x, n, 'x');
      inside('axpy', y, n, 'y');
      A[0] = x;
      A[1] = y;
      A[2] = n;
      A[3] = alpha;
      run(id, K.axpy);
    },

    unary(op, x, out, n) {
      inside('unary', x, n, 'x');
      inside('unary', out, n, 'out');
      A[0] = op;
      A[1] = x;
      A[2] = out;
      A[3] = n;
      run(id, K.unary);
    },

    unaryBackward(op, x, gradOut, gradX, n) {
      inside('unaryBackward', x, n, 'x');
      inside('unaryBackward', gradOut, n, 'gradOut');
      inside('unaryBackward', gradX, n, 'gradX');
      A[0] = op;
      A[1] = x;
      A[2] = gradOut;
      A[3] = gradX;
      A[4] = n;
      run(id, K.unaryBackward);
    },

    reduce(op, x, out, argmax, outer, axis, inner) {
      inside('reduce', x, outer * axis * inner, 'x');
      inside('reduce', out, outer * inner, 'out');
      if (argmax !== 0) inside('reduce', argmax, outer * inner, 'argmax');
      A[0] = op;
      A[1] = x;
      A[2] = out;
      A[3] = argmax;
      A[4] = outer;
      A[5] = axis;
      A[6] = inner;
      run(id, K.reduce);
    },

    matmul(a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB, strideC, accumulate) {
      if (batch > 0 && m > 0 && n > 0) {
        if (k > 0) {
          inside('matmul', a, (batch - 1) * strideA + m * k, 'A');
          inside('matmul', b, (batch - 1) * strideB + k * n, 'B');
        }
        inside('matmul', c, (batch - 1) * strideC + m * n, 'C');
        if (bias !== 0) inside('matmul', bias, n, 'bias');
      }
      A[0] = a;
      A[1] = b;
      A[2] = c;
      A[3] = bias;
      A[4] = batch;
      A[5] = m;
      A[6] = n;
      A[7] = k;
      A[8] = transA ? 1 : 0;
      A[9] = transB ? 1 : 0;
      A[10] = strideA;
      A[11] = strideB;
      A[12] = strideC;
      A[13] = accumulate ? 1 : 0;
      run(id, K.matmul);
    },

    embeddingForward(table, ids, out, rows, dim) {
      inside('embeddingForward', ids, rows, 'ids');
      inside('embeddingForward', out, rows * dim, 'out');
      A[0] = table;
      A[1] = ids;
      A[2] = out;
      A[3] = rows;
      A[4] = dim;
      run(id, K.embeddingForward);
    },

    embeddingBackward(ids, gradOut, gradTable, rows, dim) {
      inside('embeddingBackward', ids, rows, 'ids');
      inside('embeddingBackward', gradOut, rows * dim, 'gradOut');
      A[0] = ids;
      A[1] = gradOut;
      A[2] = gradTable;
      A[3] = rows;
      A[4] = dim;
      run(id, K.embeddingBackward);
    },

    layerNormForward(x, gamma, beta, out, mean, rstd, rows, dim, eps) {
      inside('layerNormForward', x, rows * dim, 'x');
      inside('layerNormForward', out, rows * dim, 'out');
      A[0] = x;
      A[1] = gamma;
      A[2] = beta;
      A[3] = out;
      A[4] = mean;
      A[5] = rstd;
      A[6] = rows;
      A[7] = dim;
      A[8] = eps;
      run(id, K.layerNormForward);
    },

    layerNormBackward(x, gamma, mean, rstd, gradOut, gradX, gradGamma, gradBeta, rows, dim) {
      inside('layerNormBackward', x, rows * dim, 'x');
      inside('layerNormBackward', gradOut, rows * dim, 'gradOut');
      inside('layerNormBackward', gradX, rows * dim, 'gradX');
      A[0] = x;
      A[1] = gamma;
      A[2] = mean;
      A[3] = rstd;
      A[4] = gradOut;
      A[5] = gradX;
      A[6] = gradGamma;
      A[7] = gradBeta;
      A[8] = rows;
      A[9] = dim;
      run(id, K.layerNormBackward);
    },

    softmaxForward(x, out, rows, dim) {
      inside('softmaxForward', x, rows * dim, 'x');
      inside('softmaxForward', out, rows * dim, 'out');
      A[0] = x;
      A[1] = out;
      A[2] = rows;
      A[3] = dim;
      run(id, K.softmaxForward);
    },

    softmaxBackward(y, gradOut, gradX, rows, dim) {
      inside('softmaxBackward', y, rows * dim, 'y');
      inside('softmaxBackward', gradX, rows * dim, 'gradX');
      A[0] = y;
      A[1] = gradOut;
      A[2] = gradX;
      A[3] = rows;
      A[4] = dim;
      run(id, K.softmaxBackward);
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

    crossEntropyForward(logits, targets, losses, lse, rows, vocab, ignoreIndex) {
      inside('crossEntropyForward', logits, rows * vocab, 'logits');
      inside('crossEntropyForward', targets, rows, 'targets');
      A[0] = logits;
      A[1] = targets;
      A[2] = losses;
      A[3] = lse;
      A[4] = rows;
      A[5] = vocab;
      A[6] = ignoreIndex;
      run(id, K.crossEntropyForward);
    },

    crossEntropyBackward(logits, targets, lse, gradLogits, rows, vocab, ignoreIndex, scale) {
      inside('crossEntropyBackward', logits, rows * vocab, 'logits');
      inside('crossEntropyBackward', gradLogits, rows * vocab, 'gradLogits');
      A[0] = logits;
      A[1] = targets;
      A[2] = lse;
      A[3] = gradLogits;
      A[4] = rows;
      A[5] = vocab;
      A[6] = ignoreIndex;
      A[7] = scale;
      run(id, K.crossEntropyBackward);
    },

    dropoutForward(x, out, n, p, seed, offset) {
      inside('dropoutForward', x, n, 'x');
      inside('dropoutForward', out, n, 'out');
      A[0] = x;
      A[1] = out;
      A[2] = n;
      A[3] = p;
      A[4] = seed >>> 0;
      A[5] = offset >>> 0;
      run(id, K.dropoutForward);
    },

    dropoutBackward(gradOut, gradX, n, p, seed, offset) {
      inside('dropoutBackward', gradOut, n, 'gradOut');
      inside('dropoutBackward', gradX, n, 'gradX');
      A[0] = gradOut;
      A[1] = gradX;
      A[2] = n;
      A[3] = p;
      A[4] = seed >>> 0;
      A[5] = offset >>> 0;
      run(id, K.dropoutBackward);
    },

    adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2) {
      inside('adamw', param, n, 'param');
      inside('adamw', grad, n, 'grad');
      inside('adamw', m, n, 'm');
      inside('adamw', v, n, 'v');
      A[0] = param;
      A[1] = grad;
      A[2] = m;
      A[3] = v;
      A[4] = n;
      A[5] = lr;
      A[6] = beta1;
      A[7] = beta2;
      A[8] = eps;
      A[9] = weightDecay;
      A[10] = bc1;
      A[11] = bc2;
      run(id, K.adamw);
    },

    sumSquares(x, n) {
      inside('sumSquares', x, n, 'x');
      A[0] = x;
      A[1] = n;
      return run(id, K.sumSquares);
    },

    packBf16(src, dst, rows, cols, transpose) {
      inside('packBf16', src, rows * cols, 'src');
      inside('packBf16', dst, Math.ceil((rows * cols) / 2), 'dst');
      A[0] = src;
      A[1] = dst;
      A[2] = rows;
      A[3] = cols;
      A[4] = transpose ? 1 : 0;
      run(id, K.packBf16);
    },

    matmulBf16(a, bPacked, c, bias, m, n, k) {
      if (m > 0 && n > 0) {
        inside('matmulBf16', a, m * k, 'A');
        inside('matmulBf16', bPacked, Math.ceil((k * n) / 2), 'packed B');
        inside('matmulBf16', c, m * n, 'C');
        if (bias !== 0) inside('matmulBf16', bias, n, 'bias');
      }
      A[0] = a;
      A[1] = bPacked;
      A[2] = c;
      A[3] = bias;
      A[4] = m;
      A[5] = n;
      A[6] = k;
      run(id, K.matmulBf16);
    },
  };
}
