// The oracle's hand-derived backward formulas against central differences of its own forward
// formulas (all float64), so a derivation slip in the oracle cannot hide a matching one in a kernel.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as oracle from './kernel-oracle.ts';
import { UnaryOp } from '../kernels.ts';
import { Rng } from '../rng.ts';

const H = 1e-5;

function randn(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Central difference of loss() with respect to x[i] (x is perturbed in place and restored). */
function numericGrad(x: Float64Array, i: number, loss: () => number): number {
  const saved = x[i]!;
  x[i] = saved + H;
  const up = loss();
  x[i] = saved - H;
  const down = loss();
  x[i] = saved;
  return (up - down) / (2 * H);
}

function expectNear(what: string, got: number, want: number, tol = 1e-6): void {
  assert.ok(Math.abs(got - want) <= tol * (1 + Math.abs(want)), `${what}: analytic ${got}, numeric ${want}`);
}

describe('kernel oracle gradients agree with finite differences', () => {
  it('unary derivatives', () => {
    const rng = new Rng(1);
    for (const op of [UnaryOp.Gelu, UnaryOp.Relu, UnaryOp.Tanh, UnaryOp.Exp, UnaryOp.Neg]) {
      for (const x of randn(rng, 50, 2)) {
        const fd = (oracle.oracleUnaryScalar(op, x + H) - oracle.oracleUnaryScalar(op, x - H)) / (2 * H);
        expectNear(`op ${op} at ${x}`, oracle.oracleUnaryDerivative(op, x), fd);
      }
    }
  });

  it('layerNorm', () => {
    const rng = new Rng(2);
    const rows = 3;
    const dim = 6;
    const eps = 1e-5;
    const x = randn(rng, rows * dim, 2);
    const gamma = randn(rng, dim);
    const beta = randn(rng, dim);
    const gradOut = randn(rng, rows * dim);
    const loss = (): number => dot(oracle.oracleLayerNorm(x, gamma, beta, rows, dim, eps).out, gradOut);
    const g = oracle.oracleLayerNormGrad(x, gamma, gradOut, rows, dim, eps);
    for (let i = 0; i < x.length; i++) expectNear(`gradX[${i}]`, g.gradX[i]!, numericGrad(x, i, loss));
    for (let i = 0; i < dim; i++) {
      expectNear(`gradGamma[${i}]`, g.gradGamma[i]!, numericGrad(gamma, i, loss));
      expectNear(`gradBeta[${i}]`, g.gradBeta[i]!, numericGrad(beta, i, loss));
    }
  });

  it('softmax', () => {
    const rng = new Rng(3);
    const rows = 3;
    const dim = 7;
    const x = randn(rng, rows * dim, 3);
    const gradOut = randn(rng, rows * dim);
    const loss = (): number => dot(oracle.oracleSoftmax(x, rows, dim), gradOut);
    const g = oracle.oracleSoftmaxGrad(x, gradOut, rows, dim);
    for (let i = 0; i < x.length; i++) expectNear(`gradX[${i}]`, g[i]!, numericGrad(x, i, loss));
  });

  it('cross-entropy with an ignored row', () => {
    const rng = new Rng(4);
    const rows = 4;
    const vocab = 5;
    const logits = randn(rng, rows * vocab, 2);
    const targets = Int32Array.from([3, -1, 0, 4]);
    const scale = 0.25;
    const loss = (): number => scale * oracle.oracleCrossEntropy(logits, targets, rows, vocab, -1).losses.reduce((s, v) => s + v, 0);
    const g = oracle.oracleCrossEntropyGrad(logits, targets, rows, vocab, -1, scale);
    for (let i = 0; i < logits.length; i++) expectNear(`gradLogits[${i}]`, g[i]!, numericGrad(logits, i, loss));
  });

  for (const [packed, window] of [[false, 0], [true, 0], [false, 2]] as const) {
    it(`attention (${packed ? 'packed qkv, square' : 'separate, causalOffset 2'}${window ? `, window ${window}` : ''})`, () => {
      const rng = new Rng(packed ? 5 : 6 + window);
      const B = 2;
      const Hh = 2;
      const D = 3;
      const tq = packed ? 4 : 3;
      const tk = packed ? 4 : 5;
      const ac: oracle.AttentionCase = { batch: B, heads: Hh, tq, tk, headDim: D, scale: 0.7, causalOffset: tk - tq, window };
      let q: oracle.StridedOperand;
      let k: oracle.StridedOperand;
      let v: oracle.StridedOperand;
      if (packed) {
        const data = randn(rng, B * tq * 3 * Hh * D);
        const strides = [tq * 3 * Hh * D, D, 3 * Hh * D];
        q = { data, offset: 0, strides };
        k = { data, offset: Hh * D, strides };
        v = { data, offset: 2 * Hh * D, strides };
      } else {
        q = { data: randn(rng, B * Hh * tq * D), offset: 0, strides: [Hh * tq * D, tq * D, D] };
        k = { data: randn(rng, B * Hh * tk * D), offset: 0, strides: [Hh * tk * D, tk * D, D] };
        v = { data: randn(rng, B * Hh * tk * D), offset: 0, strides: [Hh * tk * D, tk * D, D] };
      }
      const gradOut = randn(rng, B * Hh * tq * D);
      const loss = (): number => dot(oracle.oracleAttention(q, k, v, ac).out, gradOut);
      const g = oracle.oracleAttentionGrad(q, k, v, gradOut, ac);
      const check = (name: string, t: oracle.StridedOperand, grad: Float64Array, rows: number): void => {
        for (let b = 0; b < B; b++)
          for (let h = 0; h < Hh; h++)
            for (let r = 0; r < rows; r++)
              for (let c = 0; c < D; c++) {
                const at = t.offset + b * t.strides[0]! + h * t.strides[1]! + r * t.strides[2]! + c;
                const analytic = grad[((b * Hh + h) * rows + r) * D + c]!;
                expectNear(`${name}[${b},${h},${r},${c}]`, analytic, numericGrad(t.data, at, loss));
              }
      };
      check('gradQ', q, g.gradQ, tq);
      check('gradK', k, g.gradK, tk);
      check('gradV', v, g.gradV, tk);
    });
  }

  it('a sliding window hides the keys at or before position − window', () => {
    // Query 2 (causalOffset 0) with window 2 sees keys 1 and 2 only: key 0, however large its
    // score, contributes nothing, and key 3 is in the future.
    const q = { data: Float64Array.from([1, 1, 1]), offset: 0, strides: [3, 3, 1] };
    const k = { data: Float64Array.from([50, 1, 2, 9]), offset: 0, strides: [4, 4, 1] };
    const v = { data: Float64Array.from([100, 3, 5, 7]), offset: 0, strides: [4, 4, 1] };
    const ac = { batch: 1, heads: 1, tq: 3, tk: 4, headDim: 1, scale: 1, causalOffset: 0, window: 2 };
    const { out, lse } = oracle.oracleAttention(q, k, v, ac);
    expectNear('out[0] (sees key 0 only)', out[0]!, 100, 1e-12);
    expectNear('out[2]', out[2]!, (Math.exp(1) * 3 + Math.exp(2) * 5) / (Math.exp(1) + Math.exp(2)), 1e-12);
    expectNear('lse[2]', lse[2]!, Math.log(Math.exp(1) + Math.exp(2)), 1e-12);
  });

  it('attention lse is the log-sum-exp of the visible scaled scores', () => {
    // One query, two visible keys: lse = log(e^{s0} + e^{s1}) by hand.
    const q = { data: Float64Array.from([1, 2]), offset: 0, strides: [2, 2, 2] };
    const k = { data: Float64Array.from([0.5, -1, 3, 1, 9, 9]), offset: 0, strides: [6, 6, 2] };
    const v = { data: Float64Array.from([1, 0, 0, 1, 5, 5]), offset: 0, strides: [6, 6, 2] };
    const ac = { batch: 1, heads: 1, tq: 1, tk: 3, headDim: 2, scale: 0.5, causalOffset: 1 };
    const { out, lse } = oracle.oracleAttention(q, k, v, ac);
    const s0 = 0.5 * (0.5 - 2);
    const s1 = 0.5 * (3 + 2);
    const z = Math.exp(s0) + Math.exp(s1);
    expectNear('lse', lse[0]!, Math.log(z), 1e-12);
    expectNear('out[0]', out[0]!, Math.exp(s0) / z, 1e-12);
    expectNear('out[1]', out[1]!, Math.exp(s1) / z, 1e-12);
  });
});
