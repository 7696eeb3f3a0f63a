// bfloat16 weights for decoding. A decode step multiplies a few rows of activations by every
// weight matrix, so it is bound by the bytes of weights read; storing them as bf16 (the upper
// half of a float32) halves those bytes. packBf16 rounds float32 weights to bf16 once, and
// matmulBf16 streams the packed matrix row by row, widening each 16-bit value back to a float32
// (a shift, exact) and accumulating in float32.
//
// Packed layout: 16-bit values, value e at byte dst + 2·e (two per 4-byte element, low half
// first on little-endian wasm).

import { madd, scratch, splitAt } from './common';

// Rows of A per pass over B: every pass re-reads all of B, and m is 1..8 in decoding.
const MB = 8;
// Bytes of accumulators plus the four B row segments a step reads, kept within L1 (32 KiB on
// older x86, 48 KiB on newer) so the accumulators never go to L2 between steps.
const BLOCK_BYTES = 24576;
// Column alignment of parts and blocks: 16 floats of C are one cache line, so two threads never
// write the same line (and every block but the last holds whole 8-column vectors).
const COL_ALIGN = 16;
// Tiles of the transposed pack, source rows × columns: 32 rows keep the live source and packed
// lines few enough for L1 even when a power-of-two row stride maps them all to one cache set,
// and 32 columns are two whole cache lines of each source row.
const TILE_ROWS = 32;
const TILE_COLS = 32;

/**
 * Per lane, float32 bits rounded to bfloat16 in the upper half (nearest, ties to even); the
 * lower half is left over and must be masked or shifted away. Adding 0x7fff plus the bf16 lsb
 * carries into the upper half exactly when the dropped half is above the midpoint, or at it
 * with an odd lsb; the largest finite values correctly round up to Inf. NaN would round to Inf
 * or flip its sign, so it keeps its own upper half with the quiet bit set instead.
 */
@inline function bf16High(x: v128): v128 {
  const lsb = v128.and(i32x4.shr_u(x, 16), i32x4.splat(1));
  const rounded = i32x4.add(i32x4.add(x, i32x4.splat(0x7fff)), lsb);
  return v128.bitselect(v128.or(x, i32x4.splat(0x00400000)), rounded, f32x4.ne(x, x));
}

/** Two vectors of float32 as the 8 bf16 values they round to, in order. */
@inline function bf16x8(lo: v128, hi: v128): v128 {
  // upper halves to the low 16 bits, then narrowed (exact: they are 0..0xffff)
  return i16x8.narrow_i32x4_u(i32x4.shr_u(bf16High(lo), 16), i32x4.shr_u(bf16High(hi), 16));
}

/** The float32 values of x rounded to bfloat16 (the float a bf16 stands for). */
@inline function roundBf16(x: v128): v128 {
  return v128.and(bf16High(x), i32x4.splat(0xffff0000));
}

/** The 16-bit bfloat16 of one float32 (through the vector code, so both agree bit for bit). */
@inline function bf16Bits(x: f32): u16 {
  return <u16>(i32x4.extract_lane(bf16High(f32x4.splat(x)), 0) >>> 16);
}

/**
 * Float32s of 8 packed bf16 values, even ones (0, 2, 4, 6) and odd ones (1, 3, 5, 7): value 2i
 * is the low half of 32-bit lane i and value 2i+1 its high half, so a shift and a mask make
 * them float32s without shuffles (which older x86 cores run on a single port, beside the
 * streaming loop's own). Accumulators of a vector of columns are kept in this order and
 * interleaved when written out.
 */
@inline function widenEven(r: v128): v128 {
  return i32x4.shl(r, 16);
}

@inline function widenOdd(r: v128): v128 {
  return v128.and(r, i32x4.splat(0xffff0000));
}

@inline function bf16At(b: usize): f32 {
  return reinterpret<f32>(<u32>load<u16>(b) << 16);
}

/**
 * x·b + c for one column, through the same (possibly fused) vector operation as the vector
 * columns: every column then rounds alike, wherever part and block boundaries fall.
 */
@inline function madd1(x: f32, b: f32, c: f32): f32 {
  return f32x4.extract_lane(madd(f32x4.splat(x), f32x4.splat(b), f32x4.splat(c)), 0);
}

/**
 * dst = src (rows × cols) rounded to bf16, as value r·cols + c, or c·rows + r when transpose.
 * Parts split the flat range (in 16-value chunks) or, transposed, the packed rows.
 */
export function packBf16(part: i32, parts: i32, src: usize, dst: usize, rows: i32, cols: i32, transpose: i32): void {
  if (rows <= 0 || cols <= 0) return;
  if (transpose == 0) {
    const n = rows * cols;
    const e = splitAt(n, part + 1, parts, 16);
    let i = splitAt(n, part, parts, 16);
    for (; i + 8 <= e; i += 8) {
      const s = src + (<usize>i << 2);
      v128.store(dst + (<usize>i << 1), bf16x8(v128.load(s), v128.load(s, 16)));
    }
    for (; i < e; i++) store<u16>(dst + (<usize>i << 1), bf16Bits(load<f32>(src + (<usize>i << 2))));
    return;
  }
  // Packed row c is column c of src. Inside a tile, 8 source rows at a time are read across
  // (their lines stay in L1 for the tile's columns) and transposed in registers 8×4 at a time,
  // so each packed row gets runs of 16 bytes that complete its lines within the tile. The
  // ragged edges of the matrix go value by value.
  const c0 = splitAt(cols, part, parts, 16);
  const c1 = splitAt(cols, part + 1, parts, 16);
  const rowBytes = <usize>cols << 2;
  const rows8 = rows & ~7;
  for (let r0 = 0; r0 < rows; r0 += TILE_ROWS) {
    const r1 = min(rows, r0 + TILE_ROWS);
    const r8 = min(r1, rows8);
    for (let t = c0; t < c1; t += TILE_COLS) {
      const t1 = min(c1, t + TILE_COLS);
      const t4 = t + ((t1 - t) & ~3);
      for (let r = r0; r < r8; r += 8) {
        const s = src + <usize>r * rowBytes;
        for (let c = t; c < t4; c += 4) transpose8x4(s + (<usize>c << 2), rowBytes, dst + ((<usize>c * <usize>rows + <usize>r) << 1), <usize>rows << 1);
      }
      for (let c = t; c < t4; c++) packColumn(src, rowBytes, dst, rows, c, r8, r1);
      for (let c = t4; c < t1; c++) packColumn(src, rowBytes, dst, rows, c, r0, r1);
    }
  }
}

/** Packed row c, values r0..r1: column c of src, rows r0..r1, one value at a time. */
@inline function packColumn(src: usize, rowBytes: usize, dst: usize, rows: i32, c: i32, r0: i32, r1: i32): void {
  const out = dst + ((<usize>c * <usize>rows) << 1);
  const col = src + (<usize>c << 2);
  for (let r = r0; r < r1; r++) store<u16>(out + (<usize>r << 1), bf16Bits(load<f32>(col + <usize>r * rowBytes)));
}

/**
 * 8 rows × 4 columns of src (at s, row stride rowBytes) rounded to bf16 and written as 4 packed
 * rows of 8 values (at d, stride dStep bytes).
 */
@inline function transpose8x4(s: usize, rowBytes: usize, d: usize, dStep: usize): void {
  // each vector: two source rows of 4 bf16 values, [r c0..c3, r+1 c0..c3]
  const v01 = bf16x8(v128.load(s), v128.load(s + rowBytes));
  s += rowBytes << 1;
  const v23 = bf16x8(v128.load(s), v128.load(s + rowBytes));
  s += rowBytes << 1;
  const v45 = bf16x8(v128.load(s), v128.load(s + rowBytes));
  s += rowBytes << 1;
  const v67 = bf16x8(v128.load(s), v128.load(s + rowBytes));
  // [rows 0..3 of column 0, rows 0..3 of column 1] and so on, then halves joined per column
  const a01 = v128.shuffle<u16>(v01, v23, 0, 4, 8, 12, 1, 5, 9, 13);
  const a23 = v128.shuffle<u16>(v01, v23, 2, 6, 10, 14, 3, 7, 11, 15);
  const b01 = v128.shuffle<u16>(v45, v67, 0, 4, 8, 12, 1, 5, 9, 13);
  const b23 = v128.shuffle<u16>(v45, v67, 2, 6, 10, 14, 3, 7, 11, 15);
  v128.store(d, v128.shuffle<u64>(a01, b01, 0, 2));
  v128.store(d + dStep, v128.shuffle<u64>(a01, b01, 1, 3));
  v128.store(d + 2 * dStep, v128.shuffle<u64>(a23, b23, 0, 2));
  v128.store(d + 3 * dStep, v128.shuffle<u64>(a23, b23, 1, 3));
}

/**
 * acc (mb rows × w, contiguous; each whole 8-column vector as its even then odd columns) =
 * Σ_p bf16(A[i, p])·B[p, j..j+w) for the block of columns at b (already offset to column j).
 * B is walked four rows at a time: each accumulator vector is loaded and stored once per four
 * multiply-adds, and the four row segments, read from memory for the first row of A, come from
 * L1 for the others. Every column runs the same chain of multiply-adds in p order, so results
 * do not depend on where blocks or parts start.
 */
function streamBlock(a: usize, b: usize, acc: usize, mb: i32, n: i32, k: i32, w: i32): void {
  const rowA = <usize>k << 2;
  const rowB = <usize>n << 1;
  const rowAcc = <usize>w << 2;
  memory.fill(acc, 0, <usize>mb * rowAcc);
  const w8 = w & ~7;
  let bp = b;
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    for (let i = 0; i < mb; i++) {
      const x = roundBf16(v128.load(a + <usize>i * rowA + (<usize>p << 2)));
      const x0 = v128.shuffle<f32>(x, x, 0, 0, 0, 0);
      const x1 = v128.shuffle<f32>(x, x, 1, 1, 1, 1);
      const x2 = v128.shuffle<f32>(x, x, 2, 2, 2, 2);
      const x3 = v128.shuffle<f32>(x, x, 3, 3, 3, 3);
      const cr = acc + <usize>i * rowAcc;
      let q = 0;
      for (; q < w8; q += 8) {
        const co = cr + (<usize>q << 2);
        const bq = bp + (<usize>q << 1);
        let ev = v128.load(co), od = v128.load(co, 16);
        let r = v128.load(bq);
        ev = madd(x0, widenEven(r), ev);
        od = madd(x0, widenOdd(r), od);
        r = v128.load(bq + rowB);
        ev = madd(x1, widenEven(r), ev);
        od = madd(x1, widenOdd(r), od);
        r = v128.load(bq + 2 * rowB);
        ev = madd(x2, widenEven(r), ev);
        od = madd(x2, widenOdd(r), od);
        r = v128.load(bq + 3 * rowB);
        ev = madd(x3, widenEven(r), ev);
        od = madd(x3, widenOdd(r), od);
        v128.store(co, ev);
        v128.store(co, od, 16);
      }
      if (q < w) {
        const s0 = f32x4.extract_lane(x, 0), s1 = f32x4.extract_lane(x, 1);
        const s2 = f32x4.extract_lane(x, 2), s3 = f32x4.extract_lane(x, 3);
        for (; q < w; q++) {
          const co = cr + (<usize>q << 2);
          const bq = bp + (<usize>q << 1);
          let s = load<f32>(co);
          s = madd1(s0, bf16At(bq), s);
          s = madd1(s1, bf16At(bq + rowB), s);
          s = madd1(s2, bf16At(bq + 2 * rowB), s);
          s = madd1(s3, bf16At(bq + 3 * rowB), s);
          store<f32>(co, s);
        }
      }
    }
    bp += rowB << 2;
  }
  for (; p < k; p++) {
    for (let i = 0; i < mb; i++) {
      const x = roundBf16(f32x4.splat(load<f32>(a + <usize>i * rowA + (<usize>p << 2))));
      const cr = acc + <usize>i * rowAcc;
      let q = 0;
      for (; q < w8; q += 8) {
        const co = cr + (<usize>q << 2);
        const r = v128.load(bp + (<usize>q << 1));
        v128.store(co, madd(x, widenEven(r), v128.load(co)));
        v128.store(co, madd(x, widenOdd(r), v128.load(co, 16)), 16);
      }
      const xs = f32x4.extract_lane(x, 0);
      for (; q < w; q++) {
        const co = cr + (<usize>q << 2);
        store<f32>(co, madd1(xs, bf16At(bp + (<usize>q << 1)), load<f32>(co)));
      }
    }
    bp += rowB;
  }
}

/**
 * C rows (mb × w at c, row stride rowC bytes) = acc (+ bias), putting the even/odd halves of
 * each 8-column vector back in column order.
 */
function writeBlock(acc: usize, c: usize, rowC: usize, bias: usize, mb: i32, w: i32): void {
  const rowAcc = <usize>w << 2;
  const w8 = w & ~7;
  for (let i = 0; i < mb; i++) {
    const out = c + <usize>i * rowC;
    const cr = acc + <usize>i * rowAcc;
    let q = 0;
    for (; q < w8; q += 8) {
      const o = <usize>q << 2;
      const ev = v128.load(cr + o), od = v128.load(cr + o, 16);
      let lo = v128.shuffle<f32>(ev, od, 0, 4, 1, 5);
      let hi = v128.shuffle<f32>(ev, od, 2, 6, 3, 7);
      if (bias != 0) {
        lo = f32x4.add(lo, v128.load(bias + o));
        hi = f32x4.add(hi, v128.load(bias + o, 16));
      }
      v128.store(out + o, lo);
      v128.store(out + o, hi, 16);
    }
    for (; q < w; q++) {
      const o = <usize>q << 2;
      const v = load<f32>(cr + o);
      store<f32>(out + o, bias != 0 ? v + load<f32>(bias + o) : v);
    }
  }
}

/**
 * C (m×n) = bf16(A)·B (+ bias) with B the k×n matrix packBf16 wrote. Parts split the columns:
 * each streams its slice of every row of B, and no sums cross parts, so the result is the same
 * for any number of parts. Rows of A go in groups of MB, columns in blocks whose accumulators
 * fit L1, in this thread's scratch.
 */
export function matmulBf16(part: i32, parts: i32, a: usize, b: usize, c: usize, bias: usize, m: i32, n: i32, k: i32): void {
  if (m <= 0 || n <= 0) return;
  const j0 = splitAt(n, part, parts, COL_ALIGN);
  const j1 = splitAt(n, part + 1, parts, COL_ALIGN);
  if (j0 >= j1) return;
  const acc = scratch();
  const rowC = <usize>n << 2;
  for (let i0 = 0; i0 < m; i0 += MB) {
    const mb = min(MB, m - i0);
    // mb accumulator rows (4 bytes a column) plus four B row segments (2 bytes a column)
    const nb = max(COL_ALIGN, (BLOCK_BYTES / (4 * mb + 8)) & ~(COL_ALIGN - 1));
    const ai = a + <usize>i0 * (<usize>k << 2);
    for (let j = j0; j < j1; j += nb) {
      const w = min(nb, j1 - j);
      streamBlock(ai, b + (<usize>j << 1), acc, mb, n, k, w);
      writeBlock(acc, c + <usize>i0 * rowC + (<usize>j << 2), rowC, bias != 0 ? bias + (<usize>j << 2) : 0, mb, w);
    }
  }
}
