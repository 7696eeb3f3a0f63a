// int8 weights for decoding (--precision int8). A decode step multiplies a few rows of activations
// by every weight matrix, so it is bound by the bytes of weights read; q8_0 blocks (32 int8 values
// and a half-precision scale, 34 bytes for 32 weights) read 0.27 of the fp32 bytes and 0.53 of
// bf16's. matmulQ8 computes from the blocks themselves, with integer dot products: widening every
// int8 weight to a float (i8 → i16 → i32 → f32, then a multiply-add) costs wasm SIMD more
// instructions than the bf16 kernel spends per weight, while i32x4.dot_i16x8_s multiplies eight
// int16 pairs and adds them pairwise in one. So each 32-value block of a row of A is rounded to
// int16 first (xq = round(x · 32767 / max|x|), scale sa = max|x| / 32767: an error of at most
// 2^-16 of the block's largest |x|, far below the weights' own int8 rounding), and a block's
// product is sa · d · Σ xq·q, summed exactly in int32 and accumulated in fp32.
//
// Packed layout (src/backend/q8-0.ts): row j of W (the weights of output j) is ceil(k / 32) blocks
// of [d: f16 little-endian][q: 32 × i8], rows one after another; a short last block has q = 0
// past k, and the rounded activations are 0 there too.

import { hsum4, madd, scratch, splitAt } from './common';

const QB: usize = 34;
// Column alignment of parts: 16 floats of C are one cache line, so two threads never write the same line.
const COL_ALIGN = 16;
// Scratch bytes for a chunk of rounded rows of A (int16 values and a scale per block): reused by
// every group of four packed rows of the part, so they stay in L2 while W streams past once per chunk.
const CHUNK_BYTES: usize = 196608;
// How far ahead of the packed rows in use to touch memory (as the native kernel prefetches).
const PREFETCH: usize = 8192;

/** IEEE half bits (in the low 16 bits of each lane) as float32s, exactly. */
@inline function halvesToF32(h: v128): v128 {
  const em = v128.and(h, i32x4.splat(0x7fff));
  const normal = i32x4.add(i32x4.shl(em, 13), i32x4.splat(0x38000000));
  const subnormal = f32x4.mul(f32x4.convert_i32x4_u(em), f32x4.splat(5.9604644775390625e-8)); // em · 2^−24
  const special = v128.or(i32x4.shl(v128.and(em, i32x4.splat(0x3ff)), 13), i32x4.splat(0x7f800000)); // Inf, NaN
  let f = v128.bitselect(normal, subnormal, i32x4.ge_u(em, i32x4.splat(0x400)));
  f = v128.bitselect(special, f, i32x4.ge_u(em, i32x4.splat(0x7c00)));
  return v128.or(f, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** The scales of the blocks at p0..p3 (their first two bytes), as four float32 lanes. */
@inline function scales4(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  let h = i32x4.splat(<i32>load<u16>(p0));
  h = i32x4.replace_lane(h, 1, <i32>load<u16>(p1));
  h = i32x4.replace_lane(h, 2, <i32>load<u16>(p2));
  h = i32x4.replace_lane(h, 3, <i32>load<u16>(p3));
  return halvesToF32(h);
}

/** Σ q·xq over one block: q the 32 int8 weights at p, xq the block's 32 int16 activations in x0..x3. */
@inline function blockDot(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const qa = v128.load(p);
  const qb = v128.load(p, 16);
  let s = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(qa), x0);
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(qa), x1));
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(qb), x2));
  return i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(qb), x3));
}

/**
 * Rows of A (k values each) rounded to int16 per 32-value block: row r's values at xq + r·rowQ
 * (zero past k), its block scales at sa + r·(nb·4); tmp is 128 bytes of room for a short block.
 */
function roundRows(a: usize, rowA: usize, rows: i32, k: i32, nb: i32, xq: usize, rowQ: usize, sa: usize, tmp: usize): void {
  const zero = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const x = a + <usize>r * rowA;
    const q = xq + <usize>r * rowQ;
    const s = sa + <usize>r * (<usize>nb << 2);
    for (let b = 0; b < nb; b++) {
      const p = b << 5;
      const src = x + (<usize>p << 2);
      let v0 = zero, v1 = zero, v2 = zero, v3 = zero, v4 = zero, v5 = zero, v6 = zero, v7 = zero;
      if (p + 32 <= k) {
        v0 = v128.load(src); v1 = v128.load(src, 16); v2 = v128.load(src, 32); v3 = v128.load(src, 48);
        v4 = v128.load(src, 64); v5 = v128.load(src, 80); v6 = v128.load(src, 96); v7 = v128.load(src, 112);
      } else {
        // The short last block: its values through a zeroed 128-byte copy.
        memory.fill(tmp, 0, 128);
        memory.copy(tmp, src, <usize>(k - p) << 2);
        v0 = v128.load(tmp); v1 = v128.load(tmp, 16); v2 = v128.load(tmp, 32); v3 = v128.load(tmp, 48);
        v4 = v128.load(tmp, 64); v5 = v128.load(tmp, 80); v6 = v128.load(tmp, 96); v7 = v128.load(tmp, 112);
      }
      // max |x|; NaN propagates through f32x4.max, so a NaN activation makes its block's products NaN
      let m = f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3)));
      m = f32x4.max(m, f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
      m = f32x4.max(m, v128.shuffle<f32>(m, m, 2, 3, 0, 1));
      const amax = f32x4.extract_lane(f32x4.max(m, v128.shuffle<f32>(m, m, 1, 0, 3, 2)), 0);
      store<f32>(s + (<usize>b << 2), amax / 32767);
      const inv = f32x4.splat(amax > 0 ? <f32>32767 / amax : 0);
      const out = q + (<usize>p << 1);
      v128.store(out, i16x8.narrow_i32x4_s(toInt(v0, inv), toInt(v1, inv)));
      v128.store(out, i16x8.narrow_i32x4_s(toInt(v2, inv), toInt(v3, inv)), 16);
      v128.store(out, i16x8.narrow_i32x4_s(toInt(v4, inv), toInt(v5, inv)), 32);
      v128.store(out, i16x8.narrow_i32x4_s(toInt(v6, inv), toInt(v7, inv)), 48);
    }
  }
}

/** round(v · inv) to the nearest integer (ties to even), as int32 lanes (|v · inv| ≤ 32767). */
@inline function toInt(v: v128, inv: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, inv)));
}

/**
 * Outputs j..j+3 of one row (its rounded values at x, block scales at s): the four packed rows
 * are read block by block side by side, into four fp32 accumulators.
 */
function four(x: usize, s: usize, w: usize, rowBytes: usize, nb: i32, last: usize, sink: usize): v128 {
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  let touched: u32 = 0;
  for (let b = 0; b < nb; b++) {
    // wasm has no prefetch: a load 8 KiB ahead (two cache lines per block of the four rows, the
    // pace at which they are read) starts the fetch of what the next groups will read.
    const ahead = min(w + PREFETCH + <usize>b * 136, last);
    touched += load<u8>(ahead) + load<u8>(min(ahead + 64, last));
    const xb = x + (<usize>b << 6);
    const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
    const b0 = w + <usize>b * QB;
    const b1 = b0 + rowBytes, b2 = b1 + rowBytes, b3 = b2 + rowBytes;
    const ds = f32x4.mul(scales4(b0, b1, b2, b3), f32x4.splat(load<f32>(s + (<usize>b << 2))));
    f0 = madd(f32x4.convert_i32x4_s(blockDot(b0 + 2, x0, x1, x2, x3)), v128.shuffle<f32>(ds, ds, 0, 0, 0, 0), f0);
    f1 = madd(f32x4.convert_i32x4_s(blockDot(b1 + 2, x0, x1, x2, x3)), v128.shuffle<f32>(ds, ds, 1, 1, 1, 1), f1);
    f2 = madd(f32x4.convert_i32x4_s(blockDot(b2 + 2, x0, x1, x2, x3)), v128.shuffle<f32>(ds, ds, 2, 2, 2, 2), f2);
    f3 = madd(f32x4.convert_i32x4_s(blockDot(b3 + 2, x0, x1, x2, x3)), v128.shuffle<f32>(ds, ds, 3, 3, 3, 3), f3);
  }
  // Stored, so that the touching loads are not optimised away.
  store<u32>(sink, touched);
  return hsum4(f0, f1, f2, f3);
}

/** One output, with the arithmetic of one lane of four(). */
function one(x: usize, s: usize, w: usize, nb: i32): f32 {
  let f = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    const xb = x + (<usize>b << 6);
    const blk = w + <usize>b * QB;
    const ds = f32x4.mul(scales4(blk, blk, blk, blk), f32x4.splat(load<f32>(s + (<usize>b << 2))));
    f = madd(f32x4.convert_i32x4_s(blockDot(blk + 2, v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48))), ds, f);
  }
  return f32x4.extract_lane(hsum4(f, f, f, f), 0);
}

@inline function biasAt(bias: usize, j: i32): f32 {
  return bias != 0 ? load<f32>(bias + (<usize>j << 2)) : 0;
}

/**
 * C (m×n) = A · Wᵀ (+ bias) with W the n×k matrix of q8_0 blocks at b. Parts split the columns
 * (no sums cross parts, and every output runs the same arithmetic, so the result depends neither
 * on the number of parts nor on the number of rows); within a part, rows of A are rounded a chunk
 * at a time into this thread's scratch, and each group of four packed rows serves every row of it.
 */
export function matmulQ8(part: i32, parts: i32, a: usize, b: usize, c: usize, bias: usize, m: i32, n: i32, k: i32): void {
  if (m <= 0 || n <= 0) return;
  const j0 = splitAt(n, part, parts, COL_ALIGN);
  const j1 = splitAt(n, part + 1, parts, COL_ALIGN);
  if (j0 >= j1) return;
  const nb = (k + 31) >> 5;
  const rowBytes = <usize>nb * QB;
  const rowA = <usize>k << 2;
  const rowC = <usize>n << 2;
  const rowQ = <usize>nb << 6;
  const rowS = <usize>nb << 2;
  const chunk = max(1, <i32>(CHUNK_BYTES / max<usize>(rowQ + rowS, 1)));
  const xq = scratch();
  const sa = xq + <usize>chunk * rowQ;
  const tmp = sa + <usize>chunk * rowS;
  const j4 = j0 + ((j1 - j0) & ~3);
  const last = b + <usize>n * rowBytes - 1;
  for (let i0 = 0; i0 < m; i0 += chunk) {
    const rows = min(chunk, m - i0);
    roundRows(a + <usize>i0 * rowA, rowA, rows, k, nb, xq, rowQ, sa, tmp);
    for (let j = j0; j < j4; j += 4) {
      const w = b + <usize>j * rowBytes;
      for (let i = 0; i < rows; i++) {
        const sums = four(xq + <usize>i * rowQ, sa + <usize>i * rowS, w, rowBytes, nb, last, tmp);
        const out = c + <usize>(i0 + i) * rowC + (<usize>j << 2);
        store<f32>(out, f32x4.extract_lane(sums, 0) + biasAt(bias, j));
        store<f32>(out, f32x4.extract_lane(sums, 1) + biasAt(bias, j + 1), 4);
        store<f32>(out, f32x4.extract_lane(sums, 2) + biasAt(bias, j + 2), 8);
        store<f32>(out, f32x4.extract_lane(sums, 3) + biasAt(bias, j + 3), 12);
      }
    }
    for (let j = j4; j < j1; j++) {
      const w = b + <usize>j * rowBytes;
      for (let i = 0; i < rows; i++) {
        store<f32>(c + <usize>(i0 + i) * rowC + (<usize>j << 2), one(xq + <usize>i * rowQ, sa + <usize>i * rowS, w, nb) + biasAt(bias, j));
      }
    }
  }
}
