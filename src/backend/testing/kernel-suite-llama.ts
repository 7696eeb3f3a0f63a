// Kernel-suite cases of the Llama family's kernels: rmsNorm (forward, gradX and gradGamma), rotary
// embeddings (forward and its inverse rotation, with a KV-cache position offset) and the fused
// SwiGLU product, each against the float64 oracle on odd sizes.

import { UnaryOp } from '../kernels.ts';
import { add, type CaseFn, ELEMENTWISE_TOL, expectClose, fround, normals, reductionTol, SIZES } from './kernel-harness.ts';
import * as oracle from './kernel-oracle.ts';

export function llamaCases(test: CaseFn): void {
  for (const dim of SIZES) {
    test(`rmsNorm dim ${dim}`, (h, rng, { kernels: k }) => {
      const rows = 7;
      const eps = 1e-6;
      const x = normals(rng, rows * dim, 2);
      const gamma = normals(rng, dim, 0.5, 1);
      const want = oracle.oracleRmsNorm(x, gamma, rows, dim, eps);
      const xp = h.input(x, 'x');
      const gp = h.input(gamma, 'gamma');
      const out = h.output(rows * dim, 'out');
      const rstd = h.output(rows, 'rstd');
      h.run(() => k.rmsNormForward(xp, gp, out, rstd, rows, dim, eps));
      const tol = reductionTol(dim);
      expectClose('out', h.read(out, rows * dim), want.out, tol);
      expectClose('rstd', h.read(rstd, rows), want.rstd, tol);

      const gradOut = normals(rng, rows * dim);
      const gxInit = normals(rng, rows * dim);
      const ggInit = normals(rng, dim);
      const rstdIn = h.input(fround(want.rstd), 'rstd');
      const go = h.input(gradOut, 'gradOut');
      const gx = h.buffer(gxInit, 'gradX');
      const gg = h.buffer(ggInit, 'gradGamma');
      h.run(() => k.rmsNormBackward(xp, gp, rstdIn, go, gx, rows, dim));
      h.run(() => k.rmsNormGammaBackward(xp, rstdIn, go, gg, rows, dim));
      const grads = oracle.oracleRmsNormGrad(x, gamma, gradOut, rows, dim, eps);
      expectClose('gradX', h.read(gx, rows * dim), add(gxInit, grads.gradX), tol);
      expectClose('gradGamma', h.read(gg, dim), add(ggInit, grads.gradGamma), reductionTol(rows * dim));
    });
  }

  // Head dims around the vector width (2: one pair; 18: a tail after a full vector), and a KV-cache
  // offset so rows read positions past the first.
  for (const [dim, offset] of [[2, 0], [18, 3], [64, 5]] as const) {
    test(`rope dim ${dim} offset ${offset}`, (h, rng, { kernels: k }) => {
      const [batch, seq, heads] = [2, 5, 3];
      const rows = batch * seq;
      const half = dim / 2;
      const positions = offset + seq;
      const angles = normals(rng, positions * half, 3);
      const cos = angles.map(Math.cos);
      const sin = angles.map(Math.sin);
      const x = normals(rng, rows * heads * dim);
      const xp = h.input(x, 'x');
      const cp = h.input(cos, 'cos');
      const sp = h.input(sin, 'sin');
      const out = h.output(rows * heads * dim, 'out');
      h.run(() => k.ropeForward(xp, cp, sp, out, rows, seq, heads, dim, offset));
      const c32 = fround(cos);
      const s32 = fround(sin);
      expectClose('forward', h.read(out, x.length), oracle.oracleRope(x, c32, s32, rows, seq, heads, dim, offset), reductionTol(2));

      const gradOut = normals(rng, x.length);
      const gxInit = normals(rng, x.length);
      const go = h.input(gradOut, 'gradOut');
      const gx = h.buffer(gxInit, 'gradX');
      h.run(() => k.ropeBackward(go, cp, sp, gx, rows, seq, heads, dim, offset));
      const want = add(gxInit, oracle.oracleRope(gradOut, c32, s32, rows, seq, heads, dim, offset, true));
      expectClose('backward', h.read(gx, x.length), want, reductionTol(2));
    });
  }

  test('swiglu forward and backward, each gradient alone and both', (h, rng, { kernels: k }) => {
    const silu = (x: number): number => oracle.oracleUnaryScalar(UnaryOp.Silu, x);
    const dsilu = (x: number): number => oracle.oracleUnaryDerivative(UnaryOp.Silu, x);
    for (const n of SIZES) {
      const gate = normals(rng, n, 3);
      const up = normals(rng, n);
      const gp = h.input(gate, 'gate');
      const upp = h.input(up, 'up');
      const out = h.output(n);
      h.run(() => k.swigluForward(gp, upp, out, n));
      expectClose(`swiglu n=${n}`, h.read(out, n), gate.map((x, i) => silu(x) * up[i]!), ELEMENTWISE_TOL);

      const gradOut = normals(rng, n);
      const go = h.input(gradOut, 'gradOut');
      const wantGate = (init: Float64Array): Float64Array => init.map((v, i) => v + dsilu(gate[i]!) * up[i]! * gradOut[i]!);
      const wantUp = (init: Float64Array): Float64Array => init.map((v, i) => v + silu(gate[i]!) * gradOut[i]!);
      for (const [withGate, withUp] of [[true, true], [true, false], [false, true]] as const) {
        const ggInit = normals(rng, n);
        const guInit = normals(rng, n);
        const gg = withGate ? h.buffer(ggInit, 'gradGate') : 0;
        const gu = withUp ? h.buffer(guInit, 'gradUp') : 0;
        h.run(() => k.swigluBackward(gp, upp, go, gg, gu, n));
        if (withGate) expectClose(`swiglu gradGate n=${n}`, h.read(gg, n), wantGate(ggInit), ELEMENTWISE_TOL);
        if (withUp) expectClose(`swiglu gradUp n=${n}`, h.read(gu, n), wantUp(guInit), ELEMENTWISE_TOL);
      }
    }
  });
}
