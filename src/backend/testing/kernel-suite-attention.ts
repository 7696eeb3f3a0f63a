// Attention cases of the kernel suite: square causal, KV-cache (tq < tk with causalOffset), packed
// qkv and (B,T,H,D) strided layouts, scores large enough to overflow without max subtraction,
// grouped-query attention and sliding windows.

import type { Rng } from '../rng.ts';
import {
  add,
  expectClose,
  fround,
  gatherBHTD,
  normals,
  reductionTol,
  scatterBHTD,
  stridedSize,
  type CaseFn,
  type Harness,
} from './kernel-harness.ts';
import * as oracle from './kernel-oracle.ts';
import type { AttentionArgs } from '../kernels.ts';

/**
 * separate: q, k, v each contiguous (B,H,T,D); kvBTHD: k and v stored (B,T,H,D);
 * packed: one (B,T,3,H,D) buffer, as a fused qkv projection produces it.
 */
type InputLayout = 'separate' | 'kvBTHD' | 'packed';

interface Case {
  title: string;
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headDim: number;
  layout: InputLayout;
  /** Output stored (B,T,H,D) instead of (B,H,T,D). */
  outBTHD: boolean;
  /** gradOut stored (B,T,H,D) instead of (B,H,T,D) (it has its own strides). */
  gradOutBTHD: boolean;
  /** Multiplies q, to push the scores far beyond float32 exp range. */
  qScale?: number;
  /** Grouped-query attention: query heads per kv head (k and v have heads / kvGroup). */
  kvGroup?: number;
  /** Sliding window: query at position p sees keys p − window < j <= p. */
  window?: number;
}

const CASES: Case[] = [
  { title: 'single position', batch: 1, heads: 1, tq: 1, tk: 1, headDim: 1, layout: 'separate', outBTHD: false, gradOutBTHD: false },
  { title: 'B2 H3 T7 d5', batch: 2, heads: 3, tq: 7, tk: 7, headDim: 5, layout: 'separate', outBTHD: false, gradOutBTHD: true },
  {
    title: 'packed qkv (B,T,3,H,D), T65 d16, out (B,T,H,D)',
    batch: 1,
    heads: 2,
    tq: 65,
    tk: 65,
    headDim: 16,
    layout: 'packed',
    outBTHD: true,
    gradOutBTHD: false,
  },
  {
    title: 'KV cache: last 3 of 10 positions, k/v (B,T,H,D)',
    batch: 2,
    heads: 2,
    tq: 3,
    tk: 10,
    headDim: 8,
    layout: 'kvBTHD',
    outBTHD: true,
    gradOutBTHD: true,
  },
  { title: 'KV cache: one query over 63 keys', batch: 1, heads: 3, tq: 1, tk: 63, headDim: 7, layout: 'separate', outBTHD: false, gradOutBTHD: false },
  // The one-query path works four keys and whole vectors of the head at a time: remainders of both.
  { title: 'KV cache: one query, d 64 over 37 keys', batch: 2, heads: 3, tq: 1, tk: 37, headDim: 64, layout: 'separate', outBTHD: true, gradOutBTHD: false },
  { title: 'KV cache: one query, d 40 over 100 keys', batch: 1, heads: 2, tq: 1, tk: 100, headDim: 40, layout: 'separate', outBTHD: false, gradOutBTHD: false },
  { title: 'KV cache: one query, d 160 over 21 keys', batch: 1, heads: 2, tq: 1, tk: 21, headDim: 160, layout: 'separate', outBTHD: false, qScale: 10, gradOutBTHD: false },
  { title: 'large scores need max subtraction', batch: 1, heads: 2, tq: 13, tk: 13, headDim: 8, layout: 'packed', outBTHD: false, qScale: 100, gradOutBTHD: false },
  { title: 'T130 d64', batch: 1, heads: 1, tq: 130, tk: 130, headDim: 64, layout: 'separate', outBTHD: true, gradOutBTHD: false },
  { title: 'GQA: 6 query heads on 2 kv heads, T9 d8', batch: 2, heads: 6, tq: 9, tk: 9, headDim: 8, layout: 'separate', outBTHD: true, gradOutBTHD: false, kvGroup: 3 },
  { title: 'GQA KV cache: one query, 4 heads on 1 kv head, d 64 over 37 keys', batch: 2, heads: 4, tq: 1, tk: 37, headDim: 64, layout: 'kvBTHD', outBTHD: true, gradOutBTHD: false, kvGroup: 4 },
  // Sliding windows: smaller than the key blocks (whole blocks skipped), straddling block edges,
  // of one key, wider than the sequence, with a KV cache, one query, and GQA.
  { title: 'window 5, B2 H2 T40 d8', batch: 2, heads: 2, tq: 40, tk: 40, headDim: 8, layout: 'separate', outBTHD: false, gradOutBTHD: true, window: 5 },
  { title: 'window 1 sees only its own key, T9 d5', batch: 1, heads: 2, tq: 9, tk: 9, headDim: 5, layout: 'separate', outBTHD: false, gradOutBTHD: false, window: 1 },
  { title: 'window 20 wider than T9', batch: 1, heads: 2, tq: 9, tk: 9, headDim: 4, layout: 'packed', outBTHD: true, gradOutBTHD: false, window: 20 },
  { title: 'window 55, packed qkv T150 d16', batch: 1, heads: 2, tq: 150, tk: 150, headDim: 16, layout: 'packed', outBTHD: true, gradOutBTHD: false, window: 55 },
  { title: 'window 17, T100 d32 large scores', batch: 1, heads: 1, tq: 100, tk: 100, headDim: 32, layout: 'separate', outBTHD: false, gradOutBTHD: false, qScale: 30, window: 17 },
  { title: 'window 4, KV cache: last 5 of 23 positions, k/v (B,T,H,D)', batch: 2, heads: 2, tq: 5, tk: 23, headDim: 8, layout: 'kvBTHD', outBTHD: true, gradOutBTHD: true, window: 4 },
  { title: 'window 9, KV cache: one query, d 64 over 80 keys', batch: 1, heads: 3, tq: 1, tk: 80, headDim: 64, layout: 'separate', outBTHD: false, gradOutBTHD: false, window: 9 },
  { title: 'window 6, GQA: 6 query heads on 2 kv heads, T30 d8', batch: 2, heads: 6, tq: 30, tk: 30, headDim: 8, layout: 'separate', outBTHD: true, gradOutBTHD: false, kvGroup: 3, window: 6 },
  { title: 'window 11, GQA KV cache: 3 of 70 positions, 4 heads on 1 kv head', batch: 1, heads: 4, tq: 3, tk: 70, headDim: 16, layout: 'kvBTHD', outBTHD: true, gradOutBTHD: false, kvGroup: 4, window: 11 },
];

function bhtd(heads: number, t: number, d: number): number[] {
  return [heads * t * d, t * d, d];
}

function bthd(heads: number, t: number, d: number): number[] {
  return [t * heads * d, d, heads * d];
}

interface Operands {
  q: oracle.StridedOperand;
  k: oracle.StridedOperand;
  v: oracle.StridedOperand;
}

function makeOperands(c: Case, rng: Rng): Operands {
  const { batch: B, heads: H, tq, tk, headDim: D } = c;
  const qScale = c.qScale ?? 1;
  if (c.layout === 'packed') {
    // (B, T, 3, H, D): q, k, v interleaved per position.
    const data = normals(rng, B * tq * 3 * H * D);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < tq; t++)
        for (let e = 0; e < H * D; e++) {
          const at = ((b * tq + t) * 3) * H * D + e;
          data[at] = Math.fround(data[at]! * qScale);
        }
    const strides = [tq * 3 * H * D, D, 3 * H * D];
    return {
      q: { data, offset: 0, strides },
      k: { data, offset: H * D, strides },
      v: { data, offset: 2 * H * D, strides },
    };
  }
  const Hkv = H / (c.kvGroup ?? 1);
  const kvStrides = c.layout === 'kvBTHD' ? bthd(Hkv, tk, D) : bhtd(Hkv, tk, D);
  return {
    q: { data: normals(rng, B * H * tq * D, qScale), offset: 0, strides: bhtd(H, tq, D) },
    k: { data: normals(rng, B * Hkv * tk * D), offset: 0, strides: kvStrides },
    v: { data: normals(rng, B * Hkv * tk * D), offset: 0, strides: kvStrides },
  };
}

function runCase(c: Case, h: Harness, rng: Rng): void {
  const { batch: B, heads: H, tq, tk, headDim: D } = c;
  const kernels = h.device.kernels;
  const ops = makeOperands(c, rng);
  const ac: oracle.AttentionCase = { batch: B, heads: H, tq, tk, headDim: D, scale: 1 / Math.sqrt(D), causalOffset: tk - tq, kvGroup: c.kvGroup ?? 1, window: c.window ?? 0 };

  // Device copies: one buffer when q, k, v share it.
  const qp = h.input(ops.q.data, 'q');
  const kp = ops.k.data === ops.q.data ? qp : h.input(ops.k.data, 'k');
  const vp = ops.v.data === ops.q.data ? qp : h.input(ops.v.data, 'v');
  const args: AttentionArgs = {
    q: qp + ops.q.offset,
    k: kp + ops.k.offset,
    v: vp + ops.v.offset,
    qStrides: ops.q.strides,
    kStrides: ops.k.strides,
    vStrides: ops.v.strides,
    ...ac,
  };
  const outStrides = c.outBTHD ? bthd(H, tq, D) : bhtd(H, tq, D);
  const outShape = [B, H, tq, D] as const;
  const outLen = stridedSize(B, H, tq, D, outStrides);

  const out = h.output(outLen, 'out');
  const lse = h.output(B * H * tq, 'lse');
  h.run(() => kernels.attentionForward(args, out, outStrides, lse));
  const want = oracle.oracleAttention(ops.q, ops.k, ops.v, ac);
  const tol = reductionTol(Math.max(tk, D));
  expectClose('out', gatherBHTD(h.read(out, outLen), 0, outShape, outStrides), want.out, tol);
  expectClose('lse', h.read(lse, B * H * tq), want.lse, tol);

  // Backward from the oracle's forward results, so a forward error cannot mask a backward one.
  const gradOut = normals(rng, B * H * tq * D);
  const outMem = new Float64Array(outLen);
  const gradOutStrides = c.gradOutBTHD ? bthd(H, tq, D) : bhtd(H, tq, D);
  const gradOutMem = new Float64Array(stridedSize(B, H, tq, D, gradOutStrides));
  scatterBHTD(fround(want.out), outMem, 0, outShape, outStrides);
  scatterBHTD(gradOut, gradOutMem, 0, outShape, gradOutStrides);
  const outIn = h.input(outMem, 'out');
  const gradOutIn = h.input(gradOutMem, 'gradOut');
  const lseIn = h.input(fround(want.lse), 'lse');
  const gqInit = normals(rng, B * H * tq * D);
  const gkInit = normals(rng, B * H * tk * D);
  const gvInit = normals(rng, B * H * tk * D);
  const gq = h.buffer(gqInit, 'gradQ');
  const gk = h.buffer(gkInit, 'gradK');
  const gv = h.buffer(gvInit, 'gradV');
  h.run(() => kernels.attentionBackward(args, outIn, outStrides, lseIn, gradOutIn, gradOutStrides, gq, gk, gv));
  const grads = oracle.oracleAttentionGrad(ops.q, ops.k, ops.v, gradOut, ac);
  expectClose('gradQ', h.read(gq, gqInit.length), add(gqInit, grads.gradQ), tol);
  expectClose('gradK', h.read(gk, gkInit.length), add(gkInit, grads.gradK), tol);
  expectClose('gradV', h.read(gv, gvInit.length), add(gvInit, grads.gradV), tol);
}

export function attentionCases(test: CaseFn): void {
  for (const c of CASES) {
    test(`${c.title} (causalOffset ${c.tk - c.tq}${c.window ? `, window ${c.window}` : ''})`, (h, rng) => runCase(c, h, rng));
  }
}
