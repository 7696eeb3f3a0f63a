// Float64 oracles for the kernel suite, written independently of every backend: the most literal
// formula for each kernel (full index enumeration, materialised matrices, explicit masks and
// Jacobians), not the tricks a fast kernel uses. Arrays are Float64Array "memories" addressed like
// the device memory (an element offset plus strides), so strided layouts are checked too.

import { f16BitsToF32 } from '../../util/half.ts';
import { BinaryOp, ReduceOp, UnaryOp } from '../kernels.ts';
import { dropoutUniform } from '../rng.ts';

/** Every multi-index of `shape` in row-major order. */
export function allIndices(shape: readonly number[]): number[][] {
  let result: number[][] = [[]];
  for (const len of shape) {
    const next: number[][] = [];
    for (const prefix of result) for (let i = 0; i < len; i++) next.push([...prefix, i]);
    result = next;
  }
  return result;
}

export function offsetOf(index: readonly number[], strides: readonly number[]): number {
  let o = 0;
  for (let d = 0; d < index.length; d++) o += index[d]! * strides[d]!;
  return o;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

/** Mutates `dst` (a copy of the destination memory) and returns it. */
export function oracleCopyStrided(
  src: Float64Array,
  srcOffset: number,
  srcStrides: readonly number[],
  dst: Float64Array,
  dstOffset: number,
  dstStrides: readonly number[],
  shape: readonly number[],
  accumulate: boolean,
): Float64Array {
  for (const idx of allIndices(shape)) {
    const value = src[srcOffset + offsetOf(idx, srcStrides)]!;
    const at = dstOffset + offsetOf(idx, dstStrides);
    dst[at] = accumulate ? dst[at]! + value : value;
  }
  return dst;
}

export function oracleBinary(
  op: BinaryOp,
  a: Float64Array,
  aOffset: number,
  aStrides: readonly number[],
  b: Float64Array,
  bOffset: number,
  bStrides: readonly number[],
  shape: readonly number[],
): Float64Array {
  const indices = allIndices(shape);
  const out = new Float64Array(indices.length);
  indices.forEach((idx, n) => {
    const x = a[aOffset + offsetOf(idx, aStrides)]!;
    const y = b[bOffset + offsetOf(idx, bStrides)]!;
    if (op === BinaryOp.Add) out[n] = x + y;
    else if (op === BinaryOp.Sub) out[n] = x - y;
    else if (op === BinaryOp.Mul) out[n] = x * y;
    else out[n] = x / y;
  });
  return out;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function oracleUnaryScalar(op: UnaryOp, x: number): number {
  switch (op) {
    case UnaryOp.Gelu: {
      const u = SQRT_2_OVER_PI * (x + 0.044715 * x ** 3);
      return (x / 2) * (1 + Math.tanh(u));
    }
    case UnaryOp.Relu:
      return Math.max(x, 0);
    case UnaryOp.Tanh:
      return Math.tanh(x);
    case UnaryOp.Exp:
      return Math.exp(x);
    case UnaryOp.Neg:
      return -x;
    case UnaryOp.Silu:
      return x / (1 + Math.exp(-x));
  }
}

/** d/dx of oracleUnaryScalar, derived by hand (checked against finite differences in the oracle's test). */
export function oracleUnaryDerivative(op: UnaryOp, x: number): number {
  switch (op) {
    case UnaryOp.Gelu: {
      const u = SQRT_2_OVER_PI * (x + 0.044715 * x ** 3);
      const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x ** 2);
      const sech2 = 1 / Math.cosh(u) ** 2;
      return (1 + Math.tanh(u)) / 2 + (x / 2) * sech2 * du;
    }
    case UnaryOp.Relu:
      return x > 0 ? 1 : 0;
    case UnaryOp.Tanh:
      return 1 / Math.cosh(x) ** 2;
    case UnaryOp.Exp:
      return Math.exp(x);
    case UnaryOp.Neg:
      return -1;
    case UnaryOp.Silu: {
      const e = Math.exp(-x);
      return (1 + e + x * e) / (1 + e) ** 2;
    }
  }
}

export function oracleReduce(
  op: ReduceOp,
  x: Float64Array,
  outer: number,
  axis: number,
  inner: number,
): { out: Float64Array; argmax: Int32Array } {
  const out = new Float64Array(outer * inner);
  const argmax = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const values: number[] = [];
      for (let k = 0; k < axis; k++) values.push(x[(o * axis + k) * inner + i]!);
      if (op === ReduceOp.Sum) {
        out[o * inner + i] = values.reduce((s, v) => s + v, 0);
      } else {
        const best = Math.max(...values);
        out[o * inner + i] = best;
        argmax[o * inner + i] = values.indexOf(best);
      }
    }
  }
  return { out, argmax };
}

export interface MatmulCase {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  strideA: number;
  strideB: number;
  strideC: number;
  accumulate: boolean;
}

/** Returns the new C memory (`c` holds its previous contents); bias null means none. */
export function oracleMatmul(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  bias: Float64Array | null,
  mc: MatmulCase,
): Float64Array {
  const { m, n, k } = mc;
  const result = Float64Array.from(c);
  for (let t = 0; t < mc.batch; t++) {
    // Materialise op(A) (m×k) and op(B) (k×n) explicitly.
    const opA: number[][] = [];
    for (let i = 0; i < m; i++) {
      opA.push([]);
      for (let p = 0; p < k; p++) opA[i]!.push(a[t * mc.strideA + (mc.transA ? p * m + i : i * k + p)]!);
    }
    const opB: number[][] = [];
    for (let p = 0; p < k; p++) {
      opB.push([]);
      for (let j = 0; j < n; j++) opB[p]!.push(b[t * mc.strideB + (mc.transB ? j * k + p : p * n + j)]!);
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += opA[i]![p]! * opB[p]![j]!;
        const at = t * mc.strideC + i * n + j;
        result[at] = s + (mc.accumulate ? result[at]! : 0) + (bias ? bias[j]! : 0);
      }
    }
  }
  return result;
}

/** The bfloat16 bits (upper half of float32, nearest, ties to even; NaN stays NaN) of a float32 value. */
export function oracleBf16Bits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  if (Number.isNaN(x)) return (u >>> 16) | 0x0040;
  const low = u & 0xffff;
  let high = u >>> 16;
  if (low > 0x8000 || (low === 0x8000 && (high & 1) === 1)) high += 1;
  return high & 0xffff;
}

/** The float value of bfloat16 bits. */
export function oracleFromBf16Bits(bits: number): number {
  return new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;
}

/** C (m×n) = bf16(A) · bf16(B) + bias in float64, A m×k and B k×n row-major. */
export function oracleMatmulBf16(a: Float64Array, b: Float64Array, bias: Float64Array | null, m: number, n: number, k: number): Float64Array {
  const r = (x: number): number => oracleFromBf16Bits(oracleBf16Bits(x));
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++) s += r(a[i * k + p]!) * r(b[p * n + j]!);
      out[i * n + j] = s;
    }
  return out;
}

/**
 * C (m×n) = A · Wᵀ (+ bias) from q8_0 blocks: row j of W is ceil(k / 32) blocks of 34 bytes
 * (little-endian half d, then 32 int8 q), and W[j, p] = q[p mod 32] · d of block floor(p / 32).
 */
export function oracleMatmulQ8(a: Float64Array, packed: Uint8Array, bias: Float64Array | null, m: number, n: number, k: number): Float64Array {
  const rowBytes = Math.ceil(k / 32) * 34;
  const w = (j: number, p: number): number => {
    const blk = j * rowBytes + Math.floor(p / 32) * 34;
    const d = f16BitsToF32(packed[blk]! | (packed[blk + 1]! << 8));
    const q = packed[blk + 2 + (p % 32)]!;
    return (q >= 128 ? q - 256 : q) * d;
  };
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * w(j, p);
      out[i * n + j] = s;
    }
  return out;
}

export function oracleEmbedding(table: Float64Array, ids: Int32Array, dim: number): Float64Array {
  const out = new Float64Array(ids.length * dim);
  ids.forEach((id, r) => out.set(table.subarray(id * dim, (id + 1) * dim), r * dim));
  return out;
}

/** Gradient of the embedding table (to be added to the previous gradient). */
export function oracleEmbeddingGrad(ids: Int32Array, gradOut: Float64Array, vocab: number, dim: number): Float64Array {
  const grad = new Float64Array(vocab * dim);
  for (let id = 0; id < vocab; id++) {
    for (let r = 0; r < ids.length; r++) {
      if (ids[r] !== id) continue;
      for (let c = 0; c < dim; c++) grad[id * dim + c] += gradOut[r * dim + c]!;
    }
  }
  return grad;
}

function rowStats(x: Float64Array, r: number, dim: number, eps: number): { mean: number; rstd: number } {
  const row = Array.from(x.subarray(r * dim, (r + 1) * dim));
  const mean = row.reduce((s, v) => s + v, 0) / dim;
  const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / dim;
  return { mean, rstd: 1 / Math.sqrt(variance + eps) };
}

export function oracleLayerNorm(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  rows: number,
  dim: number,
  eps: number,
): { out: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const out = new Float64Array(rows * dim);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const s = rowStats(x, r, dim, eps);
    mean[r] = s.mean;
    rstd[r] = s.rstd;
    for (let c = 0; c < dim; c++) out[r * dim + c] = (x[r * dim + c]! - s.mean) * s.rstd * gamma[c]! + beta[c]!;
  }
  return { out, mean, rstd };
}

/** Through the full Jacobian ∂xhat_i/∂x_j = rstd (δij − 1/D − xhat_i xhat_j / D). */
export function oracleLayerNormGrad(
  x: Float64Array,
  gamma: Float64Array,
  gradOut: Float64Array,
  rows: number,
  dim: number,
  eps: number,
): { gradX: Float64Array; gradGamma: Float64Array; gradBeta: Float64Array } {
  const gradX = new Float64Array(rows * dim);
  const gradGamma = new Float64Array(dim);
  const gradBeta = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const { mean, rstd } = rowStats(x, r, dim, eps);
    const xhat = (c: number): number => (x[r * dim + c]! - mean) * rstd;
    for (let i = 0; i < dim; i++) {
      const g = gradOut[r * dim + i]!;
      gradGamma[i] += g * xhat(i);
      gradBeta[i] += g;
      for (let j = 0; j < dim; j++) {
        const jac = rstd * ((i === j ? 1 : 0) - 1 / dim - (xhat(i) * xhat(j)) / dim);
        gradX[r * dim + j] += g * gamma[i]! * jac;
      }
    }
  }
  return { gradX, gradGamma, gradBeta };
}

export function oracleRmsNorm(x: Float64Array, gamma: Float64Array, rows: number, dim: number, eps: number): { out: Float64Array; rstd: Float64Array } {
  const out = new Float64Array(rows * dim);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * dim, (r + 1) * dim);
    rstd[r] = 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / dim + eps);
    for (let c = 0; c < dim; c++) out[r * dim + c] = row[c]! * rstd[r]! * gamma[c]!;
  }
  return { out, rstd };
}

/** Through the full Jacobian ∂xhat_i/∂x_j = rstd (δij − xhat_i xhat_j / D). */
export function oracleRmsNormGrad(
  x: Float64Array,
  gamma: Float64Array,
  gradOut: Float64Array,
  rows: number,
  dim: number,
  eps: number,
): { gradX: Float64Array; gradGamma: Float64Array } {
  const { rstd } = oracleRmsNorm(x, gamma, rows, dim, eps);
  const gradX = new Float64Array(rows * dim);
  const gradGamma = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const rs = rstd[r]!;
    const xhat = (c: number): number => x[r * dim + c]! * rs;
    for (let i = 0; i < dim; i++) {
      const g = gradOut[r * dim + i]!;
      gradGamma[i] += g * xhat(i);
      for (let j = 0; j < dim; j++) gradX[r * dim + j] += g * gamma[i]! * rs * ((i === j ? 1 : 0) - (xhat(i) * xhat(j)) / dim);
    }
  }
  return { gradX, gradGamma };
}

/**
 * Rotary embedding as an explicit 2×2 rotation of each pair (c, c + D/2) of x (rows, heads, dim),
 * row r at position offset + r % seq; `transpose` applies the transposed rotation (the gradient).
 */
export function oracleRope(
  x: Float64Array,
  cos: Float64Array,
  sin: Float64Array,
  rows: number,
  seq: number,
  heads: number,
  dim: number,
  offset: number,
  transpose = false,
): Float64Array {
  const out = new Float64Array(x.length);
  const half = dim / 2;
  for (let r = 0; r < rows; r++) {
    const pos = offset + (r % seq);
    for (let hd = 0; hd < heads; hd++) {
      const base = (r * heads + hd) * dim;
      for (let c = 0; c < half; c++) {
        const m = [cos[pos * half + c]!, -sin[pos * half + c]!, sin[pos * half + c]!, cos[pos * half + c]!];
        if (transpose) [m[1], m[2]] = [m[2]!, m[1]!];
        const a = x[base + c]!;
        const b = x[base + c + half]!;
        out[base + c] = m[0]! * a + m[1]! * b;
        out[base + c + half] = m[2]! * a + m[3]! * b;
      }
    }
  }
  return out;
}

function softmaxRow(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const e = values.map((v) => Math.exp(v - max));
  const z = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / z);
}

function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values);
  return max + Math.log(values.reduce((s, v) => s + Math.exp(v - max), 0));
}

export function oracleSoftmax(x: Float64Array, rows: number, dim: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) out.set(softmaxRow(Array.from(x.subarray(r * dim, (r + 1) * dim))), r * dim);
  return out;
}

/** Through the Jacobian ∂y_i/∂x_j = y_i (δij − y_j), from the input x. */
export function oracleSoftmaxGrad(x: Float64Array, gradOut: Float64Array, rows: number, dim: number): Float64Array {
  const gradX = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const y = softmaxRow(Array.from(x.subarray(r * dim, (r + 1) * dim)));
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < dim; j++) gradX[r * dim + j] += gradOut[r * dim + i]! * y[i]! * ((i === j ? 1 : 0) - y[j]!);
    }
  }
  return gradX;
}

/** One of q, k, v: a memory, the element offset of (0,0,0,0) and strides [sb, sh, st] (d contiguous). */
export interface StridedOperand {
  data: Float64Array;
  offset: number;
  strides: readonly number[];
}

export interface AttentionCase {
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headDim: number;
  scale: number;
  causalOffset: number;
  /** Query heads per kv head (default 1): k and v hold heads / kvGroup heads. */
  kvGroup?: number;
  /** Sliding window (default 0, none): key j is visible to query i only if j > i + causalOffset − window. */
  window?: number;
}

function gatherHead(t: StridedOperand, b: number, h: number, rows: number, d: number): number[][] {
  const m: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const at = t.offset + b * t.strides[0]! + h * t.strides[1]! + i * t.strides[2]!;
    m.push(Array.from(t.data.subarray(at, at + d)));
  }
  return m;
}

/** Scaled scores with the causal (and window) mask written out as -Infinity entries. */
function maskedScores(q: number[][], k: number[][], ac: AttentionCase): number[][] {
  const w = ac.window ?? 0;
  const visible = (i: number, j: number): boolean => j <= i + ac.causalOffset && (w === 0 || j > i + ac.causalOffset - w);
  return q.map((qi, i) => k.map((kj, j) => (visible(i, j) ? ac.scale * qi.reduce((s, v, c) => s + v * kj[c]!, 0) : -Infinity)));
}

/** out (b,h,tq,d) and lse (b,h,tq), both contiguous. */
export function oracleAttention(
  q: StridedOperand,
  k: StridedOperand,
  v: StridedOperand,
  ac: AttentionCase,
): { out: Float64Array; lse: Float64Array } {
  const { batch, heads, tq, tk, headDim: d } = ac;
  const out = new Float64Array(batch * heads * tq * d);
  const lse = new Float64Array(batch * heads * tq);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const S = maskedScores(gatherHead(q, b, h, tq, d), gatherHead(k, b, Math.floor(h / (ac.kvGroup ?? 1)), tk, d), ac);
      const V = gatherHead(v, b, Math.floor(h / (ac.kvGroup ?? 1)), tk, d);
      for (let i = 0; i < tq; i++) {
        const P = softmaxRow(S[i]!);
        lse[(b * heads + h) * tq + i] = logSumExp(S[i]!);
        for (let c = 0; c < d; c++) {
          out[((b * heads + h) * tq + i) * d + c] = P.reduce((s, pj, j) => s + pj * V[j]![c]!, 0);
        }
      }
    }
  }
  return { out, lse };
}

/** Gradients for a contiguous gradOut (b,h,tq,d); returns contiguous gradQ, gradK, gradV. */
export function oracleAttentionGrad(
  q: StridedOperand,
  k: StridedOperand,
  v: StridedOperand,
  gradOut: Float64Array,
  ac: AttentionCase,
): { gradQ: Float64Array; gradK: Float64Array; gradV: Float64Array } {
  const { batch, heads, tq, tk, headDim: d } = ac;
  const gradQ = new Float64Array(batch * heads * tq * d);
  const gradK = new Float64Array(batch * heads * tk * d);
  const gradV = new Float64Array(batch * heads * tk * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const bh = b * heads + h;
      const Q = gatherHead(q, b, h, tq, d);
      const K = gatherHead(k, b, Math.floor(h / (ac.kvGroup ?? 1)), tk, d);
      const V = gatherHead(v, b, Math.floor(h / (ac.kvGroup ?? 1)), tk, d);
      const S = maskedScores(Q, K, ac);
      for (let i = 0; i < tq; i++) {
        const P = softmaxRow(S[i]!);
        const dO = Array.from(gradOut.subarray((bh * tq + i) * d, (bh * tq + i + 1) * d));
        // out_i = Σ_j P_ij V_j
        const dP = V.map((vj) => vj.reduce((s, x, c) => s + x * dO[c]!, 0));
        for (let j = 0; j < tk; j++) {
          for (let c = 0; c < d; c++) gradV[(bh * tk + j) * d + c] += P[j]! * dO[c]!;
        }
        // Softmax Jacobian, then S_ij = scale · Q_i · K_j.
        for (let j = 0; j < tk; j++) {
          let dS = 0;
          for (let l = 0; l < tk; l++) dS += dP[l]! * P[l]! * ((l === j ? 1 : 0) - P[j]!);
          for (let c = 0; c < d; c++) {
            gradQ[(bh * tq + i) * d + c] += dS * ac.scale * K[j]![c]!;
            gradK[(bh * tk + j) * d + c] += dS * ac.scale * Q[i]![c]!;
          }
        }
      }
    }
  }
  return { gradQ, gradK, gradV };
}

export function oracleCrossEntropy(
  logits: Float64Array,
  targets: Int32Array,
  rows: number,
  vocab: number,
  ignoreIndex: number,
): { losses: Float64Array; lse: Float64Array } {
  const losses = new Float64Array(rows);
  const lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
    const P = softmaxRow(row);
    lse[r] = logSumExp(row);
    losses[r] = targets[r] === ignoreIndex ? 0 : -Math.log(P[targets[r]!]!);
  }
  return { losses, lse };
}

export function oracleCrossEntropyGrad(
  logits: Float64Array,
  targets: Int32Array,
  rows: number,
  vocab: number,
  ignoreIndex: number,
  scale: number,
): Float64Array {
  const grad = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    if (targets[r] === ignoreIndex) continue;
    const P = softmaxRow(Array.from(logits.subarray(r * vocab, (r + 1) * vocab)));
    for (let c = 0; c < vocab; c++) grad[r * vocab + c] = scale * (P[c]! - (c === targets[r] ? 1 : 0));
  }
  return grad;
}

/** The mask is the documented function of (seed, offset + i). */
export function oracleDropoutKeep(n: number, p: number, seed: number, offset: number): boolean[] {
  return Array.from({ length: n }, (_, i) => dropoutUniform(seed, offset + i) >= p);
}

export function oracleAdamw(
  param: Float64Array,
  grad: Float64Array,
  m: Float64Array,
  v: Float64Array,
  h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number },
): { param: Float64Array; m: Float64Array; v: Float64Array } {
  const n = param.length;
  const p2 = new Float64Array(n);
  const m2 = new Float64Array(n);
  const v2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    m2[i] = h.beta1 * m[i]! + (1 - h.beta1) * grad[i]!;
    v2[i] = h.beta2 * v[i]! + (1 - h.beta2) * grad[i]! ** 2;
    const mHat = m2[i]! / (1 - h.beta1 ** h.step);
    const vHat = v2[i]! / (1 - h.beta2 ** h.step);
    p2[i] = param[i]! - h.lr * (mHat / (Math.sqrt(vHat) + h.eps) + h.weightDecay * param[i]!);
  }
  return { param: p2, m: m2, v: v2 };
}

export function oracleSumSquares(x: Float64Array): number {
  return x.reduce((s, v) => s + v * v, 0);
}
