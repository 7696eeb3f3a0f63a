// Kernel-suite cases of int8 decoding's matmulQ8: products with weights in q8_0 blocks made by the
// shared quantizer (backend/q8-0.ts), against the float64 oracle on odd sizes: k below, at and just
// above one block and with a short last block (k not a multiple of 32), n not a multiple of any
// tile, m across several row tiles and row chunks, an all-zero weight row (scale 0) and weights so
// small that their scales are subnormal halves.

import { Q8_0_BLOCK, q8RowBytes, quantizeQ8Block } from '../q8-0.ts';
import { type CaseFn, expectClose, normals, reductionTol } from './kernel-harness.ts';
import * as oracle from './kernel-oracle.ts';

/** W (n × k, row-major) in q8_0 blocks, row after row, padded to whole 4-byte words. */
export function packRows(w: Float64Array, n: number, k: number): Uint8Array {
  const rowBytes = q8RowBytes(k);
  const out = new Uint8Array(Math.max(4, Math.ceil((n * rowBytes) / 4) * 4));
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p += Q8_0_BLOCK) quantizeQ8Block(w, j * k + p, Math.min(Q8_0_BLOCK, k - p), out, j * rowBytes + (p / Q8_0_BLOCK) * 34);
  return out;
}

export function q8Cases(test: CaseFn): void {
  // m, n, k, bias, scale of the weights
  const products: [number, number, number, boolean, number][] = [
    [1, 1, 32, false, 1],
    [1, 37, 31, true, 1],
    [1, 70, 33, false, 1],
    [3, 130, 95, true, 1],
    [8, 65, 768, true, 0.02],
    [13, 50, 64, false, 1],
    [2, 1000, 320, true, 1],
    [37, 20, 3072, false, 1],
    [5, 21, 96, false, 3e-5],
    [2, 5, 0, true, 1],
  ];
  for (const [m, n, kk, withBias, scale] of products) {
    test(`matmulQ8 ${m}x${n}x${kk}${withBias ? ' with bias' : ''}${scale < 1e-3 ? ', subnormal half scales' : ''}`, (h, rng, { kernels: k }) => {
      const a = normals(rng, m * kk);
      const w = normals(rng, n * kk, scale);
      // An all-zero row: scale 0, every output of that column is the bias alone.
      if (n > 1) w.fill(0, kk, 2 * kk);
      const bias = withBias ? normals(rng, n) : null;
      const packed = packRows(w, n, kk);
      const ap = h.input(a, 'A');
      const bp = h.inputI32(new Int32Array(packed.buffer), 'packed W');
      const biasPtr = bias ? h.input(bias, 'bias') : 0;
      const cp = h.output(m * n, 'C');
      h.run(() => k.matmulQ8(ap, bp, cp, biasPtr, m, n, kk));
      expectClose(`matmulQ8 ${m}x${n}x${kk}`, h.read(cp, m * n), oracle.oracleMatmulQ8(a, packed, bias, m, n, kk), reductionTol(kk));
    });
  }
}
