// The q8_0 block: ggml's Q8_0 (block_q8_0 in ggml-common.h), the int8 weights of `--precision
// int8` and the Q8_0 tensors of GGUF files (io/ggml-quants.ts), one definition for both. A block
// holds 32 consecutive values of a row: the scale d as an IEEE half (2 bytes, little-endian), then
// 32 int8 q; value j is q[j] · d. A matrix is stored row after row, ceil(k / 32) blocks per row of
// k values, so a weight packed for decoding is byte for byte the Q8_0 tensor GGUF stores for it.
// A row whose length is not a multiple of 32 ends in a block padded with q = 0 (its scale comes
// from the values present): GGUF cannot hold such rows, the matmulQ8 kernels read them.
//
// Quantization is ggml's quantize_row_q8_0_ref in float32 arithmetic: d = max|x| / 127, q =
// roundf(x · (1/d)) with ties away from zero, so a row quantized here is bit-identical to the same
// row quantized by llama.cpp.

import { f16BitsToF32, f32ToF16Bits } from '../util/half.ts';

/** Values per block. */
export const Q8_0_BLOCK = 32;
/** Bytes per block: the half scale, then the 32 int8 values. */
export const Q8_0_BLOCK_BYTES = 34;

/** Bytes of one packed row of k values. */
export function q8RowBytes(k: number): number {
  return Math.ceil(k / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

/**
 * One block from x[from .. from + count) (count ≤ 32; the block's other values are 0) into
 * out[at .. at + 34).
 */
export function quantizeQ8Block(x: ArrayLike<number>, from: number, count: number, out: Uint8Array, at: number): void {
  const f = Math.fround;
  let amax = 0;
  for (let j = 0; j < count; j++) amax = Math.max(amax, Math.abs(x[from + j]!));
  const d = f(amax / 127);
  const id = d !== 0 ? f(1 / d) : 0;
  const h = f32ToF16Bits(d);
  out[at] = h & 0xff;
  out[at + 1] = h >>> 8;
  for (let j = 0; j < count; j++) {
    // ggml's roundf, halves away from zero: floor(v + 0.5), one less for a negative half (exact
    // for float32 v). Written without a branch on the sign, which a sign-random weight mispredicts
    // half the time: packing a whole model runs this loop over every weight. NaN stores 0.
    const v = f(x[from + j]! * id);
    const t = v + 0.5;
    let q = Math.floor(t);
    if (q === t && v < 0) q -= 1;
    out[at + 2 + j] = q & 0xff;
  }
  for (let j = at + 2 + count; j < at + Q8_0_BLOCK_BYTES; j++) out[j] = 0;
}

/** Q8_0 blocks of x (x.length a multiple of 32), as quantize_row_q8_0_ref computes them. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % Q8_0_BLOCK !== 0) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK} values, got ${x.length}`);
  const nb = x.length / Q8_0_BLOCK;
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) quantizeQ8Block(x, b * Q8_0_BLOCK, Q8_0_BLOCK, out, b * Q8_0_BLOCK_BYTES);
  return out;
}

/** The scale of the block at byte `at`. */
export function q8Scale(bytes: Uint8Array, at: number): number {
  return f16BitsToF32(bytes[at]! | (bytes[at + 1]! << 8));
}

/** Value j of the block at byte `at`. */
export function q8Value(bytes: Uint8Array, at: number, j: number): number {
  return ((bytes[at + 2 + j]! << 24) >> 24) * q8Scale(bytes, at);
}
