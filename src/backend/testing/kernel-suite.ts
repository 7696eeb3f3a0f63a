// The kernel test suite every backend must pass: each kernel of a Device against the independent
// float64 oracles of kernel-oracle.ts, on seeded random inputs with awkward sizes. Outputs start
// as NaN and accumulated gradients as random values, inputs must come back unchanged, and a guard
// zone after every buffer catches writes past the end.
//
// A backend's test file calls kernelSuite(name, makeDevice) once.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Device } from '../device.ts';
import { attentionCases } from './kernel-suite-attention.ts';
import { llamaCases } from './kernel-suite-llama.ts';
import { q8Cases } from './kernel-suite-q8.ts';
import {
  add,
  type CaseFn,
  ELEMENTWISE_TOL,
  expectClose,
  expectEqual,
  fround,
  Harness,
  ints,
  normals,
  reductionTol,
  seedOf,
  SIZES,
} from './kernel-harness.ts';
import * as oracle from './kernel-oracle.ts';
import { BinaryOp, ReduceOp, UnaryOp } from '../kernels.ts';
import { Rng } from '../rng.ts';


export function kernelSuite(name: string, makeDevice: () => Promise<Device>): void {
  describe(`${name} kernels`, () => {
    let device: Device | null = null;
    before(async () => {
      device = await makeDevice();
    });
    after(async () => {
      await device?.close();
    });

    const test: CaseFn = (title, body) => {
      it(title, () => {
        assert.ok(device, 'the device failed to initialise');
        const h = new Harness(device);
        try {
          body(h, new Rng(seedOf(title)), device);
        } finally {
          h.dispose();
        }
      });
    };

    describe('elementwise', () => elementwiseCases(test));
    describe('copyStrided and binary', () => stridedCases(test));
    describe('reduce', () => reduceCases(test));
    describe('matmul', () => matmulCases(test));
    describe('bf16 packed weights', () => bf16PackedCases(test));
    describe('int8 (q8_0) packed weights', () => q8Cases(test));
    describe('embedding, layerNorm, softmax', () => rowCases(test));
    describe('attention', () => attentionCases(test));
    describe('rmsNorm, rope, swiglu (Llama family)', () => llamaCases(test));
    describe('cross-entropy, dropout, adamw, sumSquares', () => lossAndOptimizerCases(test));
    describe('edge cases', () => edgeCases(test));
  });
}

const UNARY_OPS: [string, UnaryOp, (rng: Rng, n: number) => Float64Array][] = [
  ['gelu', UnaryOp.Gelu, (rng, n) => normals(rng, n, 3)],
  // An exact 0 pins relu'(0) = 0 (as PyTorch).
  ['relu', UnaryOp.Relu, (rng, n) => normals(rng, n).map((v, i) => (i % 5 === 0 ? 0 : v))],
  ['tanh', UnaryOp.Tanh, (rng, n) => normals(rng, n, 2)],
  ['exp', UnaryOp.Exp, (rng, n) => normals(rng, n, 2)],
  ['neg', UnaryOp.Neg, (rng, n) => normals(rng, n)],
  // Wide inputs reach both tails: silu → 0 with e^−x overflowing, and silu → x.
  ['silu', UnaryOp.Silu, (rng, n) => normals(rng, n, 3).map((v, i) => (i % 7 === 0 ? v + (i % 2 ? -60 : 60) : v))],
];

function elementwiseCases(test: CaseFn): void {
  test('fill writes every element', (h, rng, { kernels: k }) => {
    for (const n of SIZES) {
      const value = Math.fround(rng.normal());
      const out = h.output(n);
      h.run(() => k.fill(out, n, value));
      expectEqual(`fill n=${n}`, h.read(out, n), new Float64Array(n).fill(value));
    }
  });

  test('affine, out of place and in place', (h, rng, { kernels: k }) => {
    for (const n of SIZES) {
      const x = normals(rng, n);
      const alpha = Math.fround(rng.normal());
      const beta = Math.fround(rng.normal());
      const want = x.map((v) => alpha * v + beta);
      const xp = h.input(x);
      const out = h.output(n);
      h.run(() => k.affine(xp, out, n, alpha, beta));
      expectClose(`affine n=${n}`, h.read(out, n), want, ELEMENTWISE_TOL);
      const inPlace = h.buffer(x);
      h.run(() => k.affine(inPlace, inPlace, n, alpha, beta));
      expectClose(`affine in place n=${n}`, h.read(inPlace, n), want, ELEMENTWISE_TOL);
    }
  });

  test('axpy accumulates', (h, rng, { kernels: k }) => {
    for (const n of SIZES) {
      const x = normals(rng, n);
      const y = normals(rng, n);
      const alpha = Math.fround(rng.normal());
      const xp = h.input(x);
      const yp = h.buffer(y);
      h.run(() => k.axpy(xp, yp, n, alpha));
      expectClose(`axpy n=${n}`, h.read(yp, n), y.map((v, i) => v + alpha * x[i]!), ELEMENTWISE_TOL);
    }
  });

  for (const [opName, op, gen] of UNARY_OPS) {
    test(`unary ${opName} forward and backward`, (h, rng, { kernels: k }) => {
      for (const n of SIZES) {
        const x = gen(rng, n);
        const xp = h.input(x, 'x');
        const out = h.output(n);
        h.run(() => k.unary(op, xp, out, n));
        expectClose(`${opName} n=${n}`, h.read(out, n), x.map((v) => oracle.oracleUnaryScalar(op, v)), ELEMENTWISE_TOL);

        const gradOut = normals(rng, n);
        const gradX = normals(rng, n);
        const gp = h.input(gradOut, 'gradOut');
        const gx = h.buffer(gradX, 'gradX');
        h.run(() => k.unaryBackward(op, xp, gp, gx, n));
        const want = gradX.map((g, i) => g + oracle.oracleUnaryDerivative(op, x[i]!) * gradOut[i]!);
        expectClose(`${opName} backward n=${n}`, h.read(gx, n), want, ELEMENTWISE_TOL);
      }
    });
  }

}

/** Elements spanned by a view (non-negative strides). */
function extent(shape: readonly number[], strides: readonly number[]): number {
  return shape.reduce((e, len, d) => e + (len - 1) * strides[d]!, 1);
}

function permuted<T>(values: readonly T[], perm: readonly number[]): T[] {
  return perm.map((p) => values[p]!);
}

interface CopyCase {
  title: string;
  shape: number[];
  srcStrides: number[];
  dstStrides: number[];
  srcOffset?: number;
  accumulate: boolean;
}

function copyCases(): CopyCase[] {
  const c = oracle.contiguousStrides;
  const perm4 = [3, 0, 2, 1];
  const shape8 = [2, 1, 3, 2, 1, 2, 3, 2];
  const perm8 = [5, 2, 7, 0, 3, 6, 1, 4];
  return [
    { title: 'contiguous 1000', shape: [1000], srcStrides: [1], dstStrides: [1], accumulate: false },
    { title: 'transpose 7x13', shape: [7, 13], srcStrides: [13, 1], dstStrides: [1, 7], accumulate: false },
    {
      title: 'permute 4-d',
      shape: permuted([2, 3, 5, 7], perm4),
      srcStrides: permuted(c([2, 3, 5, 7]), perm4),
      dstStrides: c(permuted([2, 3, 5, 7], perm4)),
      accumulate: false,
    },
    {
      title: 'slice with offset and step',
      shape: [5, 4],
      srcStrides: [11, 2],
      srcOffset: 2 * 11 + 3,
      dstStrides: [4, 1],
      accumulate: false,
    },
    {
      title: 'permute 8-d',
      shape: permuted(shape8, perm8),
      srcStrides: permuted(c(shape8), perm8),
      dstStrides: c(permuted(shape8, perm8)),
      accumulate: false,
    },
    { title: 'expand (src stride 0)', shape: [7, 13], srcStrides: [0, 1], dstStrides: [13, 1], accumulate: false },
    { title: 'scalar', shape: [], srcStrides: [], dstStrides: [], accumulate: false },
    {
      title: 'accumulate into permuted base',
      shape: [7, 5, 3],
      srcStrides: [15, 3, 1],
      dstStrides: [1, 21, 7],
      accumulate: true,
    },
    { title: 'broadcast-accumulate leading dim', shape: [7, 63, 5], srcStrides: [315, 5, 1], dstStrides: [0, 5, 1], accumulate: true },
    { title: 'broadcast-accumulate trailing dims', shape: [7, 13, 5], srcStrides: [65, 5, 1], dstStrides: [1, 0, 0], accumulate: true },
    { title: 'broadcast-accumulate middle dim', shape: [7, 65, 5], srcStrides: [325, 5, 1], dstStrides: [5, 0, 1], accumulate: true },
    { title: 'broadcast-accumulate to scalar', shape: [1000], srcStrides: [1], dstStrides: [0], accumulate: true },
    {
      title: 'broadcast-accumulate from transposed src',
      shape: [13, 7, 3],
      srcStrides: [1, 39, 13],
      dstStrides: [3, 0, 1],
      accumulate: true,
    },
  ];
}

interface BinaryCase {
  title: string;
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}

const BINARY_CASES: BinaryCase[] = [
  { title: 'contiguous 1000', shape: [1000], aStrides: [1], bStrides: [1] },
  { title: 'row broadcast 63x65', shape: [63, 65], aStrides: [65, 1], bStrides: [0, 1] },
  { title: 'transposed a, column broadcast b', shape: [7, 13], aStrides: [1, 7], bStrides: [1, 0] },
  { title: 'scalar b', shape: [3, 5, 7], aStrides: [35, 7, 1], bStrides: [0, 0, 0] },
  { title: '0-d', shape: [], aStrides: [], bStrides: [] },
  {
    title: '8-d with broadcasts',
    shape: [2, 3, 1, 2, 3, 1, 2, 5],
    aStrides: oracle.contiguousStrides([2, 3, 1, 2, 3, 1, 2, 5]),
    bStrides: [0, 1, 0, 3, 0, 0, 6, 0],
  },
];

const BINARY_OPS: [string, BinaryOp][] = [
  ['add', BinaryOp.Add],
  ['sub', BinaryOp.Sub],
  ['mul', BinaryOp.Mul],
  ['div', BinaryOp.Div],
];

function stridedCases(test: CaseFn): void {
  for (const cc of copyCases()) {
    test(`copyStrided ${cc.title}`, (h, rng, { kernels: k }) => {
      const srcOffset = cc.srcOffset ?? 0;
      const src = normals(rng, srcOffset + extent(cc.shape, cc.srcStrides));
      const dstLen = extent(cc.shape, cc.dstStrides);
      const dstInit = cc.accumulate ? normals(rng, dstLen) : new Float64Array(dstLen).fill(NaN);
      const sp = h.input(src, 'src');
      const dp = cc.accumulate ? h.buffer(dstInit, 'dst') : h.output(dstLen, 'dst');
      h.run(() => k.copyStrided(sp + srcOffset, cc.srcStrides, dp, cc.dstStrides, cc.shape, cc.accumulate));
      const want = oracle.oracleCopyStrided(
        src,
        srcOffset,
        cc.srcStrides,
        Float64Array.from(dstInit),
        0,
        cc.dstStrides,
        cc.shape,
        cc.accumulate,
      );
      const summed = cc.shape.reduce((s, len, d) => (cc.dstStrides[d] === 0 ? s * len : s), 1);
      expectClose('dst', h.read(dp, dstLen), want, cc.accumulate ? reductionTol(summed) : 0);
    });
  }

  for (const bc of BINARY_CASES) {
    test(`binary ${bc.title}, every op`, (h, rng, { kernels: k }) => {
      const aLen = extent(bc.shape, bc.aStrides);
      const bLen = extent(bc.shape, bc.bStrides);
      const n = bc.shape.reduce((s, v) => s * v, 1);
      const a = normals(rng, aLen);
      // Divisors kept away from zero so the quotients stay moderate.
      const b = normals(rng, bLen).map((v) => Math.fround(Math.sign(v || 1) * (0.5 + Math.abs(v))));
      const ap = h.input(a, 'a');
      const bp = h.input(b, 'b');
      for (const [opName, op] of BINARY_OPS) {
        const out = h.output(n);
        h.run(() => k.binary(op, ap, bc.aStrides, bp, bc.bStrides, out, bc.shape));
        const want = oracle.oracleBinary(op, a, 0, bc.aStrides, b, 0, bc.bStrides, bc.shape);
        expectClose(opName, h.read(out, n), want, ELEMENTWISE_TOL);
      }
    });
  }
}

const REDUCE_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 63, 5],
  [3, 1000, 1],
  [1, 65, 7],
  [65, 7, 1],
  [2, 1, 63],
];

function reduceCases(test: CaseFn): void {
  test('sum over (outer, axis, inner)', (h, rng, { kernels: k }) => {
    for (const [outer, axis, inner] of REDUCE_SHAPES) {
      const x = normals(rng, outer * axis * inner);
      const xp = h.input(x);
      const out = h.output(outer * inner);
      h.run(() => k.reduce(ReduceOp.Sum, xp, out, 0, outer, axis, inner));
      const want = oracle.oracleReduce(ReduceOp.Sum, x, outer, axis, inner).out;
      expectClose(`sum ${outer}x${axis}x${inner}`, h.read(out, outer * inner), want, reductionTol(axis));
    }
  });

  test('max with argmax (first maximum on ties) and without', (h, rng, { kernels: k }) => {
    for (const [outer, axis, inner] of REDUCE_SHAPES) {
      for (const ties of [false, true]) {
        const n = outer * axis * inner;
        // Small integers make ties common, so "first maximum" is exercised.
        const x = ties ? Float64Array.from(ints(rng, n, -2, 2)) : normals(rng, n);
        const xp = h.input(x);
        const want = oracle.oracleReduce(ReduceOp.Max, x, outer, axis, inner);
        const out = h.output(outer * inner);
        const arg = h.outputI32(outer * inner, 'argmax');
        h.run(() => k.reduce(ReduceOp.Max, xp, out, arg, outer, axis, inner));
        const what = `max ${outer}x${axis}x${inner}${ties ? ' with ties' : ''}`;
        expectEqual(what, h.read(out, outer * inner), want.out);
        expectEqual(`${what} argmax`, h.readI32(arg, outer * inner), want.argmax);
        const outOnly = h.output(outer * inner);
        h.run(() => k.reduce(ReduceOp.Max, xp, outOnly, 0, outer, axis, inner));
        expectEqual(`${what} without argmax`, h.read(outOnly, outer * inner), want.out);
      }
    }
  });
}

interface MatmulTestCase extends oracle.MatmulCase {
  bias: boolean;
}

function matmulCase(
  m: number,
  n: number,
  k: number,
  over: Partial<MatmulTestCase> = {},
): MatmulTestCase {
  return {
    batch: 1,
    m,
    n,
    k,
    transA: false,
    transB: false,
    strideA: m * k,
    strideB: k * n,
    strideC: m * n,
    accumulate: false,
    bias: false,
    ...over,
  };
}

function runMatmul(h: Harness, rng: Rng, device: Device, mc: MatmulTestCase, what: string): void {
  const span = (stride: number, size: number): number => (mc.batch - 1) * stride + size;
  const a = normals(rng, span(mc.strideA, mc.m * mc.k));
  const b = normals(rng, span(mc.strideB, mc.k * mc.n));
  const cLen = span(mc.strideC, mc.m * mc.n);
  const cInit = mc.accumulate ? normals(rng, cLen) : new Float64Array(cLen).fill(NaN);
  const bias = mc.bias ? normals(rng, mc.n) : null;
  const ap = h.input(a, 'A');
  const bp = h.input(b, 'B');
  const cp = mc.accumulate ? h.buffer(cInit, 'C') : h.output(cLen, 'C');
  const biasPtr = bias ? h.input(bias, 'bias') : 0;
  h.run(() =>
    device.kernels.matmul(
      ap,
      bp,
      cp,
      biasPtr,
      mc.batch,
      mc.m,
      mc.n,
      mc.k,
      mc.transA,
      mc.transB,
      mc.strideA,
      mc.strideB,
      mc.strideC,
      mc.accumulate,
    ),
  );
  const want = oracle.oracleMatmul(a, b, cInit, bias, mc);
  const terms = mc.k + (mc.strideC === 0 ? mc.batch : 0);
  expectClose(what, h.read(cp, cLen), want, reductionTol(terms));
}

/** The 16-bit values of a packed bf16 buffer (two per 4-byte element, low half first). */
function packedValues(h: Harness, ptr: number, count: number): number[] {
  const words = h.readI32(ptr, Math.ceil(count / 2));
  const out: number[] = [];
  for (let e = 0; e < count; e++) out.push(e % 2 === 0 ? words[e >> 1]! & 0xffff : words[e >> 1]! >>> 16);
  return out;
}

function bf16PackedCases(test: CaseFn): void {
  const shapes: [number, number][] = [
    [1, 1],
    [7, 13],
    [63, 65],
    [5, 1000],
  ];
  test('packBf16 rounds to nearest even, both layouts', (h, rng, { kernels: k }) => {
    for (const [rows, cols] of shapes) {
      const src = normals(rng, rows * cols, 3);
      // Exact ties and specials: halfway cases round to even, NaN stays NaN, infinities stay.
      const specials = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), Infinity, -Infinity, NaN, 3.4e38, 0, -0];
      for (let i = 0; i < Math.min(specials.length, src.length); i++) src[(i * 7) % src.length] = specials[i]!;
      const sp = h.input(src, 'src');
      for (const transpose of [false, true]) {
        const dst = h.outputI32(Math.ceil((rows * cols) / 2), 'packed');
        h.run(() => k.packBf16(sp, dst, rows, cols, transpose));
        const got = packedValues(h, dst, rows * cols);
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) {
            const at = transpose ? c * rows + r : r * cols + c;
            const want = oracle.oracleBf16Bits(src[r * cols + c]!);
            if (got[at] !== want) assert.fail(`packBf16 ${rows}x${cols} transpose=${transpose}: (${r}, ${c}) = ${src[r * cols + c]} packed to 0x${got[at]!.toString(16)}, want 0x${want.toString(16)}`);
          }
      }
    }
  });

  const products: [number, number, number, boolean][] = [
    [1, 1, 1, false],
    [1, 65, 33, true],
    [3, 1000, 63, true],
    [8, 130, 129, false],
    [13, 70, 7, true],
  ];
  for (const [m, n, kk, withBias] of products) {
    test(`matmulBf16 ${m}x${n}x${kk}${withBias ? ' with bias' : ''}`, (h, rng, { kernels: k }) => {
      const a = normals(rng, m * kk);
      const b = normals(rng, kk * n);
      const bias = withBias ? normals(rng, n) : null;
      const packed: number[] = [];
      for (let e = 0; e < kk * n; e += 2) packed.push((oracle.oracleBf16Bits(b[e]!) | ((e + 1 < kk * n ? oracle.oracleBf16Bits(b[e + 1]!) : 0) << 16)) | 0);
      const ap = h.input(a, 'A');
      const bp = h.inputI32(packed, 'packed B');
      const biasPtr = bias ? h.input(bias, 'bias') : 0;
      const cp = h.output(m * n, 'C');
      h.run(() => k.matmulBf16(ap, bp, cp, biasPtr, m, n, kk));
      expectClose(`matmulBf16 ${m}x${n}x${kk}`, h.read(cp, m * n), oracle.oracleMatmulBf16(a, b, bias, m, n, kk), reductionTol(kk));
    });
  }
}

function matmulCases(test: CaseFn): void {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 13, 5],
    [63, 65, 33],
    [130, 70, 129],
  ];
  for (const [m, n, k] of shapes) {
    test(`${m}x${n}x${k}, every transpose combination`, (h, rng, device) => {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          runMatmul(h, rng, device, matmulCase(m, n, k, { transA, transB }), `transA=${transA} transB=${transB}`);
        }
      }
    });
  }

  const batched: [string, MatmulTestCase][] = [
    ['batch 3 with gaps between matrices', matmulCase(7, 13, 5, { batch: 3, strideA: 7 * 5 + 5, strideB: 5 * 13 + 3, strideC: 7 * 13 + 7 })],
    ['batch 4 broadcasting A (strideA 0), transB', matmulCase(13, 7, 65, { batch: 4, strideA: 0, transB: true })],
    ['batch 4 broadcasting B (strideB 0), transA', matmulCase(63, 5, 7, { batch: 4, strideB: 0, transA: true })],
    ['bias', matmulCase(63, 65, 33, { bias: true })],
    ['accumulate', matmulCase(63, 65, 33, { accumulate: true, transB: true })],
    ['bias and accumulate, batch 2', matmulCase(7, 13, 5, { batch: 2, bias: true, accumulate: true, transA: true })],
    // With C's stride 0, the batch's products accumulate into one matrix (a broadcast weight's gradient).
    ['strideC 0 with accumulate sums the batch', matmulCase(5, 7, 13, { batch: 3, strideC: 0, accumulate: true, transA: true })],
    ['k = 0 gives bias only', matmulCase(3, 4, 0, { bias: true })],
  ];
  for (const [title, mc] of batched) {
    test(title, (h, rng, device) => runMatmul(h, rng, device, mc, title));
  }
}

function rowCases(test: CaseFn): void {
  test('embedding forward and backward with repeated ids', (h, rng, { kernels: k }) => {
    const vocab = 50;
    for (const dim of [1, 7, 63, 65]) {
      for (const rows of [1, 7, 1000]) {
        const ids = ints(rng, rows, 0, vocab);
        ids[0] = vocab - 1;
        if (rows > 1) ids[rows - 1] = ids[0]!;
        const table = normals(rng, vocab * dim);
        const tp = h.input(table, 'table');
        const ip = h.inputI32(ids);
        const out = h.output(rows * dim);
        h.run(() => k.embeddingForward(tp, ip, out, rows, dim));
        expectEqual(`forward dim=${dim} rows=${rows}`, h.read(out, rows * dim), oracle.oracleEmbedding(table, ids, dim));

        const gradOut = normals(rng, rows * dim);
        const gradInit = normals(rng, vocab * dim);
        const gp = h.input(gradOut, 'gradOut');
        const gt = h.buffer(gradInit, 'gradTable');
        h.run(() => k.embeddingBackward(ip, gp, gt, rows, dim));
        const want = add(gradInit, oracle.oracleEmbeddingGrad(ids, gradOut, vocab, dim));
        expectClose(`backward dim=${dim} rows=${rows}`, h.read(gt, vocab * dim), want, reductionTol(rows / 4));
      }
    }
  });

  const layerNormInputs: [string, number, (rng: Rng, n: number) => Float64Array][] = [
    ...SIZES.map((dim): [string, number, (rng: Rng, n: number) => Float64Array] => [`dim ${dim}`, dim, (rng, n) => normals(rng, n, 2, 0.5)]),
    // A large common offset: a one-pass float32 E[x²] − E[x]² variance would lose every digit.
    ['dim 65, mean 1000', 65, (rng, n) => normals(rng, n, 1, 1000)],
  ];
  for (const [title, dim, gen] of layerNormInputs) {
    test(`layerNorm ${title}`, (h, rng, { kernels: k }) => {
      const rows = 7;
      const eps = 1e-5;
      const x = gen(rng, rows * dim);
      const gamma = normals(rng, dim, 0.5, 1);
      const beta = normals(rng, dim, 0.5);
      const want = oracle.oracleLayerNorm(x, gamma, beta, rows, dim, eps);
      const xp = h.input(x, 'x');
      const gp = h.input(gamma, 'gamma');
      const bp = h.input(beta, 'beta');
      const out = h.output(rows * dim, 'out');
      const mean = h.output(rows, 'mean');
      const rstd = h.output(rows, 'rstd');
      h.run(() => k.layerNormForward(xp, gp, bp, out, mean, rstd, rows, dim, eps));
      const tol = reductionTol(dim);
      expectClose('out', h.read(out, rows * dim), want.out, tol);
      expectClose('mean', h.read(mean, rows), want.mean, tol);
      expectClose('rstd', h.read(rstd, rows), want.rstd, tol);

      const gradOut = normals(rng, rows * dim);
      const gxInit = normals(rng, rows * dim);
      const ggInit = normals(rng, dim);
      const gbInit = normals(rng, dim);
      const meanIn = h.input(fround(want.mean), 'mean');
      const rstdIn = h.input(fround(want.rstd), 'rstd');
      const go = h.input(gradOut, 'gradOut');
      const gx = h.buffer(gxInit, 'gradX');
      const gg = h.buffer(ggInit, 'gradGamma');
      const gb = h.buffer(gbInit, 'gradBeta');
      h.run(() => k.layerNormBackward(xp, gp, meanIn, rstdIn, go, gx, gg, gb, rows, dim));
      const grads = oracle.oracleLayerNormGrad(x, gamma, gradOut, rows, dim, eps);
      expectClose('gradX', h.read(gx, rows * dim), add(gxInit, grads.gradX), tol);
      expectClose('gradGamma', h.read(gg, dim), add(ggInit, grads.gradGamma), reductionTol(rows * dim));
      expectClose('gradBeta', h.read(gb, dim), add(gbInit, grads.gradBeta), reductionTol(rows * dim));
    });
  }

  const softmaxInputs: [string, number, (rng: Rng, n: number) => Float64Array][] = [
    ...SIZES.map((dim): [string, number, (rng: Rng, n: number) => Float64Array] => [`dim ${dim}`, dim, (rng, n) => normals(rng, n, 3)]),
    // exp() of these overflows even float64 unless the row maximum is subtracted first.
    ['dim 63, logits near 1000', 63, (rng, n) => normals(rng, n, 5, 1000)],
  ];
  for (const [title, dim, gen] of softmaxInputs) {
    test(`softmax ${title}`, (h, rng, { kernels: k }) => {
      const rows = 7;
      const x = gen(rng, rows * dim);
      const xp = h.input(x, 'x');
      const out = h.output(rows * dim);
      h.run(() => k.softmaxForward(xp, out, rows, dim));
      const y = oracle.oracleSoftmax(x, rows, dim);
      expectClose('forward', h.read(out, rows * dim), y, reductionTol(dim));

      const gradOut = normals(rng, rows * dim);
      const gxInit = normals(rng, rows * dim);
      const yp = h.input(fround(y), 'y');
      const go = h.input(gradOut, 'gradOut');
      const gx = h.buffer(gxInit, 'gradX');
      h.run(() => k.softmaxBackward(yp, go, gx, rows, dim));
      const want = add(gxInit, oracle.oracleSoftmaxGrad(x, gradOut, rows, dim));
      expectClose('backward', h.read(gx, rows * dim), want, reductionTol(dim));
    });
  }
}

function lossAndOptimizerCases(test: CaseFn): void {
  const IGNORE = -100;
  const ceCases: [string, number, number, (rng: Rng, n: number) => Float64Array][] = [
    ['1 row, vocab 7', 1, 7, (rng, n) => normals(rng, n, 2)],
    ['7 rows, vocab 1', 7, 1, (rng, n) => normals(rng, n, 2)],
    ['7 rows, vocab 63', 7, 63, (rng, n) => normals(rng, n, 2)],
    ['65 rows, vocab 1000', 65, 1000, (rng, n) => normals(rng, n, 2)],
    ['7 rows, vocab 65, logits near 1000', 7, 65, (rng, n) => normals(rng, n, 20, 1000)],
  ];
  for (const [title, rows, vocab, gen] of ceCases) {
    test(`cross-entropy ${title}, with ignored rows`, (h, rng, { kernels: k }) => {
      const logits = gen(rng, rows * vocab);
      const targets = ints(rng, rows, 0, vocab);
      for (let r = 1; r < rows; r += 3) targets[r] = IGNORE;
      const lp = h.input(logits, 'logits');
      const tp = h.inputI32(targets, 'targets');
      const losses = h.output(rows, 'losses');
      const lse = h.output(rows, 'lse');
      h.run(() => k.crossEntropyForward(lp, tp, losses, lse, rows, vocab, IGNORE));
      const want = oracle.oracleCrossEntropy(logits, targets, rows, vocab, IGNORE);
      const lossTol = reductionTol(vocab);
      expectClose('losses', h.read(losses, rows), want.losses, lossTol);
      expectClose('lse', h.read(lse, rows), want.lse, reductionTol(vocab));

      const scale = 1 / Math.max(1, targets.filter((t) => t !== IGNORE).length);
      const gInit = normals(rng, rows * vocab);
      const lseIn = h.input(fround(want.lse), 'lse');
      const gp = h.buffer(gInit, 'gradLogits');
      h.run(() => k.crossEntropyBackward(lp, tp, lseIn, gp, rows, vocab, IGNORE, scale));
      const got = h.read(gp, rows * vocab);
      const wantGrad = add(gInit, oracle.oracleCrossEntropyGrad(logits, targets, rows, vocab, IGNORE, scale));
      expectClose('gradLogits', got, wantGrad, lossTol);
      for (let r = 0; r < rows; r++) {
        if (targets[r] !== IGNORE) continue;
        const span = [r * vocab, (r + 1) * vocab] as const;
        expectEqual(`ignored row ${r} gradient`, got.subarray(...span), gInit.subarray(...span));
      }
    });
  }

  test('dropout forward and backward follow the counter-based mask', (h, rng, { kernels: k }) => {
    for (const n of SIZES) {
      for (const p of [0, 0.1, 0.5]) {
        const seed = rng.nextU32();
        const offset = rng.nextU32() % 100000;
        const keep = oracle.oracleDropoutKeep(n, p, seed, offset);
        const x = normals(rng, n).map((v) => v || 1);
        const xp = h.input(x, 'x');
        const out = h.output(n);
        h.run(() => k.dropoutForward(xp, out, n, p, seed, offset));
        const got = h.read(out, n);
        expectClose(`forward n=${n} p=${p}`, got, x.map((v, i) => (keep[i] ? v / (1 - p) : 0)), 1e-6);
        const gradOut = normals(rng, n);
        const gInit = normals(rng, n);
        const go = h.input(gradOut, 'gradOut');
        const gx = h.buffer(gInit, 'gradX');
        h.run(() => k.dropoutBackward(go, gx, n, p, seed, offset));
        const want = gInit.map((g, i) => g + (keep[i] ? gradOut[i]! / (1 - p) : 0));
        expectClose(`backward n=${n} p=${p}`, h.read(gx, n), want, 1e-6);
        // Dropped elements are exactly untouched.
        const gotGrad = h.read(gx, n);
        for (let i = 0; i < n; i++) if (!keep[i]) assert.equal(gotGrad[i], gInit[i], `dropped gradient ${i} changed`);
      }
    }
  });

  test('dropout keeps about 1 − p, is bit-identical per (seed, offset), and offsets shift the stream', (h, rng, { kernels: k }) => {
    const n = 200003;
    const p = 0.3;
    const x = h.input(new Float64Array(n).fill(1), 'ones');
    const run = (seed: number, offset: number): Int32Array => {
      const out = h.output(n);
      h.run(() => k.dropoutForward(x, out, n, p, seed, offset));
      return h.readI32(out, n);
    };
    const seed = rng.nextU32();
    const first = run(seed, 7);
    const kept = first.reduce((s, bits) => s + (bits !== 0 ? 1 : 0), 0) / n;
    const sigma = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(kept - (1 - p)) < 5 * sigma, `kept fraction ${kept} is not within 5σ of ${1 - p}`);
    assert.deepEqual(run(seed, 7), first, 'same (seed, offset) must give bit-identical outputs');
    // A thread handling the slice [10, n) passes offset + 10 and must draw the same mask.
    assert.deepEqual(run(seed, 17).subarray(0, n - 10), first.subarray(10), 'offset must index the same stream');
    const other = run(seed ^ 0x5bd1e995, 7);
    const differ = other.reduce((s, bits, i) => s + (bits !== first[i] ? 1 : 0), 0);
    assert.ok(differ > n * 0.2, `a different seed changed only ${differ} of ${n} mask bits`);
  });

  test('adamw step', (h, rng, { kernels: k }) => {
    for (const n of SIZES) {
      for (const step of [1, 7]) {
        const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
        const param = normals(rng, n);
        const grad = normals(rng, n, 0.1);
        const m = step === 1 ? new Float64Array(n) : normals(rng, n, 0.01);
        const v = step === 1 ? new Float64Array(n) : fround(normals(rng, n, 0.01).map((x) => x * x));
        const pp = h.buffer(param, 'param');
        const gp = h.input(grad, 'grad');
        const mp = h.buffer(m, 'm');
        const vp = h.buffer(v, 'v');
        const bc1 = 1 - hp.beta1 ** step;
        const bc2 = 1 - hp.beta2 ** step;
        h.run(() => k.adamw(pp, gp, mp, vp, n, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, bc1, bc2));
        const want = oracle.oracleAdamw(param, grad, m, v, hp);
        const what = `n=${n} step=${step}`;
        expectClose(`${what} m`, h.read(mp, n), want.m, ELEMENTWISE_TOL);
        expectClose(`${what} v`, h.read(vp, n), want.v, ELEMENTWISE_TOL);
        // The update is ~lr, so check it relative to its own size, not the parameter's.
        const delta = h.read(pp, n).map((p, i) => p - param[i]!);
        expectClose(`${what} update`, delta, want.param.map((p, i) => p - param[i]!), 1e-3);
      }
    }
  });

  test('sumSquares is float64-accurate and non-finite with NaN or Inf', (h, rng, { kernels: k }) => {
    for (const n of SIZES) {
      const x = normals(rng, n);
      const xp = h.input(x);
      const got = h.run(() => k.sumSquares(xp, n));
      const want = oracle.oracleSumSquares(x);
      assert.ok(Math.abs(got - want) <= 1e-10 * want, `n=${n}: ${got}, expected ${want}`);
    }
    // Squares of finite float32 values never overflow a float64 accumulator.
    const huge = h.input([3e38, -3e38, 1], 'huge');
    const hugeSum = h.run(() => k.sumSquares(huge, 3));
    assert.ok(Math.abs(hugeSum - 2 * Math.fround(3e38) ** 2) <= 1e-10 * hugeSum, `huge values: got ${hugeSum}`);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const n of [1, 65, 1000]) {
        const x = normals(rng, n);
        x[Math.floor(rng.uniform() * n)] = bad;
        const xp = h.input(x);
        const got = h.run(() => k.sumSquares(xp, n));
        assert.ok(!Number.isFinite(got), `a ${bad} among ${n} values gave the finite ${got}`);
      }
    }
  });
}

function edgeCases(test: CaseFn): void {
  test('zero-sized calls write nothing', (h, _rng, { kernels: k }) => {
    const x = h.input([1, 2, 3, 4], 'x');
    const ids = h.inputI32([0, 1, 0, 1]);
    const out = h.output(4);
    h.run(() => {
      k.fill(out, 0, 5);
      k.affine(x, out, 0, 2, 1);
      k.unary(UnaryOp.Exp, x, out, 0);
      k.copyStrided(x, [1, 1], out, [1, 1], [0, 3], false);
      k.binary(BinaryOp.Add, x, [1, 1], x, [1, 1], out, [3, 0]);
      k.reduce(ReduceOp.Sum, x, out, 0, 0, 4, 1);
      k.matmul(x, x, out, 0, 1, 0, 2, 2, false, false, 0, 0, 0, false);
      k.matmul(x, x, out, 0, 0, 2, 2, 1, false, false, 0, 0, 0, false);
      k.embeddingForward(x, ids, out, 0, 2);
      k.softmaxForward(x, out, 0, 4);
      k.dropoutForward(x, out, 0, 0.5, 1, 0);
    });
    expectEqual('out', h.read(out, 4), [NaN, NaN, NaN, NaN]);
  });

  test('kernels see memory grown after they were created', (h, rng, device) => {
    const before = device.memoryBytes();
    // Big enough to force growth on any backend's starting memory.
    const n = Math.max(1 << 20, before / 4);
    const big = h.output(n, 'big');
    assert.ok(device.memoryBytes() > before, 'the allocation should have grown the memory');
    const value = Math.fround(rng.normal());
    h.run(() => device.kernels.fill(big, n, value));
    const tail = h.read(big + n - 1000, 1000);
    expectEqual('tail of the grown region', tail, new Float64Array(1000).fill(value));
    const x = normals(rng, 1000);
    const xp = h.input(x);
    h.run(() => device.kernels.axpy(xp, big + n - 1000, 1000, 2));
    expectClose('axpy into the grown region', h.read(big + n - 1000, 1000), x.map((v) => value + 2 * v), ELEMENTWISE_TOL);
  });
}
