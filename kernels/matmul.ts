// Batched GEMM: C = op(A)·op(B) (+C) (+bias), GotoBLAS-style. B is packed into KC×NR column panels
// and A into MR×KC row panels (both zero-padded, so edge tiles run the same register-blocked
// micro-kernel), then an MR×NR tile of f32x4 accumulators walks the shared k dimension with
// fused multiply-adds on the relaxed build.
//
// Parts split the output (columns when N >= M, else rows; whole matrices when the batch is
// large and every matrix has its own C); each thread packs panels in its own scratch.

import { madd, hsum4, scratch, splitAt } from './common';

const MR = 4;
export const NR = 8;
const KC = 384;
const MC = 64;
const NC = 1024;

const PACK_A_BYTES: usize = MC * KC * 4;
const PACK_B_BYTES: usize = KC * NC * 4;
const TILE_BYTES: usize = MR * NR * 4;

/** Scratch bytes one thread needs for matmul. */
export function matmulScratchBytes(): i32 {
  return <i32>(PACK_A_BYTES + PACK_B_BYTES + TILE_BYTES + 64);
}

// ---- packing ----

/**
 * Packs op(A)[0..mc, 0..kc) into MR-row panels: panel t holds, for each p, the MR values
 * op(A)[t·MR + r, p]; rows past mc are zero.
 */
function packA(a: usize, lda: usize, transA: bool, mc: i32, kc: i32, dst: usize): void {
  const ldaB = lda << 2;
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const rows = min(MR, mc - i0);
    const panel = dst + <usize>i0 * <usize>kc * 4;
    if (transA) {
      // op(A)[i, p] = A[p, i]: MR consecutive values per p
      const src = a + (<usize>i0 << 2);
      if (rows == MR) {
        for (let p = 0; p < kc; p++) v128.store(panel + (<usize>p << 4), v128.load(src + <usize>p * ldaB));
      } else {
        for (let p = 0; p < kc; p++) {
          const s = src + <usize>p * ldaB;
          const d = panel + (<usize>p << 4);
          for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(s + (<usize>r << 2)) : 0);
        }
      }
    } else {
      const r0 = a + <usize>i0 * ldaB;
      if (rows == MR) {
        const r1 = r0 + ldaB, r2 = r1 + ldaB, r3 = r2 + ldaB;
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          // 4×4 transpose: rows of A become k-steps of the panel
          const o = <usize>p << 2;
          const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
          const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
          const d = panel + (<usize>p << 4);
          v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(d, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
          v128.store(d, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
          v128.store(d, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
        }
        for (; p < kc; p++) {
          const o = <usize>p << 2;
          v128.store(panel + (<usize>p << 4), f32x4(load<f32>(r0 + o), load<f32>(r1 + o), load<f32>(r2 + o), load<f32>(r3 + o)));
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const d = panel + (<usize>p << 4);
          for (let r = 0; r < MR; r++) {
            store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(r0 + <usize>r * ldaB + (<usize>p << 2)) : 0);
          }
        }
      }
    }
  }
}

/**
 * Packs op(B)[0..kc, 0..nc) into NR-column panels: panel t holds, for each p, the NR values
 * op(B)[p, t·NR + c]; columns past nc are zero.
 */
function packB(b: usize, ldb: usize, transB: bool, kc: i32, nc: i32, dst: usize): void {
  const ldbB = ldb << 2;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = min(NR, nc - j0);
    const panel = dst + <usize>j0 * <usize>kc * 4;
    if (!transB) {
      const src = b + (<usize>j0 << 2);
      if (cols == NR) {
        for (let p = 0; p < kc; p++) {
          const s = src + <usize>p * ldbB;
          const d = panel + (<usize>p << 5);
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const s = src + <usize>p * ldbB;
          const d = panel + (<usize>p << 5);
          for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(s + (<usize>c << 2)) : 0);
        }
      }
    } else {
      // op(B)[p, j] = B[j, p]: columns of the panel are rows of B
      const c0 = b + <usize>j0 * ldbB;
      if (cols == NR) {
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const o = <usize>p << 2;
          const d = panel + (<usize>p << 5);
          for (let h: usize = 0; h < 2; h++) {
            const base = c0 + h * 4 * ldbB + o;
            const x0 = v128.load(base), x1 = v128.load(base + ldbB);
            const x2 = v128.load(base + 2 * ldbB), x3 = v128.load(base + 3 * ldbB);
            const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
            const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
            const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
            const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
            const dh = d + (h << 4);
            v128.store(dh, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
            v128.store(dh, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
            v128.store(dh, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
            v128.store(dh, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
          }
        }
        for (; p < kc; p++) {
          const d = panel + (<usize>p << 5);
          for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), load<f32>(c0 + <usize>c * ldbB + (<usize>p << 2)));
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const d = panel + (<usize>p << 5);
          for (let c = 0; c < NR; c++) {
            store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(c0 + <usize>c * ldbB + (<usize>p << 2)) : 0);
          }
        }
      }
    }
  }
}

// ---- micro-kernel ----

/**
 * C[0..mr, 0..nr) (+)= Apanel·Bpanel over kc, plus bias when bias != 0. Step p reads MR values
 * of A at ap + p·aStep and NR values of B at bp + p·bStep (16 and 32 for packed panels; other
 * callers pass row strides of unpacked operands). Full tiles store straight from the
 * accumulators; edge tiles go through a small buffer.
 */
@inline export function micro(
  kc: i32, ap: usize, aStep: usize, bp: usize, bStep: usize, c: usize, ldcB: usize, mr: i32, nr: i32,
  loadC: bool, bias: usize, tile: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let a = ap, b = bp;
  const end = ap + <usize>kc * aStep;
  while (a < end) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    a += aStep;
    b += bStep;
  }
  if (bias != 0) {
    if (nr == NR) {
      const v0 = v128.load(bias), v1 = v128.load(bias, 16);
      c00 = f32x4.add(c00, v0); c01 = f32x4.add(c01, v1);
      c10 = f32x4.add(c10, v0); c11 = f32x4.add(c11, v1);
      c20 = f32x4.add(c20, v0); c21 = f32x4.add(c21, v1);
      c30 = f32x4.add(c30, v0); c31 = f32x4.add(c31, v1);
    } else {
      for (let j = 0; j < NR; j++) store<f32>(tile + (<usize>j << 2), j < nr ? load<f32>(bias + (<usize>j << 2)) : 0);
      const v0 = v128.load(tile), v1 = v128.load(tile, 16);
      c00 = f32x4.add(c00, v0); c01 = f32x4.add(c01, v1);
      c10 = f32x4.add(c10, v0); c11 = f32x4.add(c11, v1);
      c20 = f32x4.add(c20, v0); c21 = f32x4.add(c21, v1);
      c30 = f32x4.add(c30, v0); c31 = f32x4.add(c31, v1);
    }
  }
  if (mr == MR && nr == NR) {
    const r1 = c + ldcB, r2 = r1 + ldcB, r3 = r2 + ldcB;
    if (loadC) {
      c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
      c10 = f32x4.add(c10, v128.load(r1)); c11 = f32x4.add(c11, v128.load(r1, 16));
      c20 = f32x4.add(c20, v128.load(r2)); c21 = f32x4.add(c21, v128.load(r2, 16));
      c30 = f32x4.add(c30, v128.load(r3)); c31 = f32x4.add(c31, v128.load(r3, 16));
    }
    v128.store(c, c00); v128.store(c, c01, 16);
    v128.store(r1, c10); v128.store(r1, c11, 16);
    v128.store(r2, c20); v128.store(r2, c21, 16);
    v128.store(r3, c30); v128.store(r3, c31, 16);
    return;
  }
  v128.store(tile, c00); v128.store(tile, c01, 16);
  v128.store(tile, c10, 32); v128.store(tile, c11, 48);
  v128.store(tile, c20, 64); v128.store(tile, c21, 80);
  v128.store(tile, c30, 96); v128.store(tile, c31, 112);
  for (let i = 0; i < mr; i++) {
    const row = c + <usize>i * ldcB;
    const t = tile + (<usize>i << 5);
    for (let j = 0; j < nr; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(t + o);
      store<f32>(row + o, loadC ? load<f32>(row + o) + v : v);
    }
  }
}

/**
 * One matrix product on one thread: C (m×n, leading dim ldc) (+)= op(A)·op(B) (+ bias), all
 * pointers already offset to this thread's block.
 */
function gemm(
  a: usize, b: usize, c: usize, bias: usize, m: i32, n: i32, k: i32, transA: bool, transB: bool,
  lda: usize, ldb: usize, ldc: usize, accumulate: bool, ws: usize,
): void {
  const pa = ws;
  const pb = pa + PACK_A_BYTES;
  const tile = pb + PACK_B_BYTES;
  const ldcB = ldc << 2;
  if (k == 0) {
    for (let i = 0; i < m; i++) {
      const row = c + <usize>i * ldcB;
      for (let j = 0; j < n; j++) {
        const o = <usize>j << 2;
        let v: f32 = accumulate ? load<f32>(row + o) : 0;
        if (bias != 0) v += load<f32>(bias + o);
        store<f32>(row + o, v);
      }
    }
    return;
  }
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const first = pc == 0;
      const bSrc = transB ? b + ((<usize>jc * ldb + <usize>pc) << 2) : b + ((<usize>pc * ldb + <usize>jc) << 2);
      packB(bSrc, ldb, transB, kc, nc, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        const aSrc = transA ? a + ((<usize>pc * lda + <usize>ic) << 2) : a + ((<usize>ic * lda + <usize>pc) << 2);
        packA(aSrc, lda, transA, mc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = pb + <usize>jr * <usize>kc * 4;
          const biasHere = first && bias != 0 ? bias + (<usize>(jc + jr) << 2) : 0;
          const cCol = c + (<usize>(jc + jr) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            micro(kc, pa + <usize>ir * <usize>kc * 4, 16, bp, 32, cCol + <usize>(ic + ir) * ldcB, ldcB, mr, nr, accumulate || !first, biasHere, tile);
          }
        }
      }
    }
  }
}

/**
 * Few rows (m <= MR): no packing of B, which would cost as much as the product itself. A's rows
 * are copied contiguous first, then every B element is read once.
 */
function gemmSmallM(
  a: usize, b: usize, c: usize, bias: usize, m: i32, n: i32, k: i32, transA: bool, transB: bool,
  lda: usize, ldb: usize, ldc: usize, accumulate: bool, ws: usize,
): void {
  const ar = ws; // MR rows of k values, in the (unused) A packing buffer
  const kB = <usize>k << 2;
  for (let i = 0; i < MR; i++) {
    const dst = ar + <usize>i * kB;
    if (i >= m) {
      memory.fill(dst, 0, kB);
    } else if (transA) {
      for (let p = 0; p < k; p++) store<f32>(dst + (<usize>p << 2), load<f32>(a + ((<usize>p * lda + <usize>i) << 2)));
    } else {
      memory.copy(dst, a + ((<usize>i * lda) << 2), kB);
    }
  }
  const a1 = ar + kB, a2 = a1 + kB, a3 = a2 + kB;
  const ldcB = ldc << 2;
  const ldbB = ldb << 2;
  let j = 0;
  if (!transB && <usize>m * <usize>n * 4 <= PACK_B_BYTES) {
    // Stream B row by row (each row contiguous, read once, prefetch-friendly) into m rows of
    // accumulators; a column-strip walk down B would touch a new cache line every step.
    const acc = ws + PACK_A_BYTES;
    const rowB = <usize>n << 2;
    memory.fill(acc, 0, <usize>m * rowB);
    const n16 = n & ~15;
    const n4 = n & ~3;
    let bp = b;
    for (let p = 0; p < k; p++) {
      const o = <usize>p << 2;
      for (let i = 0; i < m; i++) {
        const xs = load<f32>(ar + <usize>i * kB + o);
        const x = f32x4.splat(xs);
        const cr = acc + <usize>i * rowB;
        let q = 0;
        for (; q < n16; q += 16) {
          const qo = <usize>q << 2;
          v128.store(cr + qo, madd(x, v128.load(bp + qo), v128.load(cr + qo)));
          v128.store(cr + qo, madd(x, v128.load(bp + qo, 16), v128.load(cr + qo, 16)), 16);
          v128.store(cr + qo, madd(x, v128.load(bp + qo, 32), v128.load(cr + qo, 32)), 32);
          v128.store(cr + qo, madd(x, v128.load(bp + qo, 48), v128.load(cr + qo, 48)), 48);
        }
        for (; q < n4; q += 4) {
          const qo = <usize>q << 2;
          v128.store(cr + qo, madd(x, v128.load(bp + qo), v128.load(cr + qo)));
        }
        for (; q < n; q++) {
          const qo = <usize>q << 2;
          store<f32>(cr + qo, load<f32>(cr + qo) + xs * load<f32>(bp + qo));
        }
      }
      bp += ldbB;
    }
    for (let i = 0; i < m; i++) {
      const row = c + <usize>i * ldcB;
      const cr = acc + <usize>i * rowB;
      for (let q = 0; q < n; q++) {
        const qo = <usize>q << 2;
        let v = load<f32>(cr + qo);
        if (bias != 0) v += load<f32>(bias + qo);
        store<f32>(row + qo, accumulate ? load<f32>(row + qo) + v : v);
      }
    }
    return;
  }
  if (!transB) {
    for (; j + 8 <= n; j += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let bp = b + (<usize>j << 2);
      for (let p = 0; p < k; p++) {
        const b0 = v128.load(bp), b1 = v128.load(bp, 16);
        const o = <usize>p << 2;
        let x = v128.load32_splat(ar + o);
        c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
        x = v128.load32_splat(a1 + o);
        c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
        x = v128.load32_splat(a2 + o);
        c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
        x = v128.load32_splat(a3 + o);
        c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
        bp += ldbB;
      }
      const t = ws + PACK_A_BYTES + PACK_B_BYTES;
      v128.store(t, c00); v128.store(t, c01, 16);
      v128.store(t, c10, 32); v128.store(t, c11, 48);
      v128.store(t, c20, 64); v128.store(t, c21, 80);
      v128.store(t, c30, 96); v128.store(t, c31, 112);
      for (let i = 0; i < m; i++) {
        const row = c + <usize>i * ldcB + (<usize>j << 2);
        for (let q = 0; q < 8; q++) {
          const o = <usize>q << 2;
          let v = load<f32>(t + (<usize>i << 5) + o);
          if (bias != 0) v += load<f32>(bias + (<usize>(j + q) << 2));
          store<f32>(row + o, accumulate ? load<f32>(row + o) + v : v);
        }
      }
    }
  }
  // remaining columns (all of them when transB): dot products of A rows with B columns
  const k4 = k & ~3;
  for (; j < n; j++) {
    const colStep: usize = transB ? 4 : ldbB;
    const col = transB ? b + <usize>j * ldbB : b + (<usize>j << 2);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let p = 0;
    if (transB) {
      for (; p < k4; p += 4) {
        const o = <usize>p << 2;
        const bv = v128.load(col + o);
        s0 = madd(v128.load(ar + o), bv, s0);
        s1 = madd(v128.load(a1 + o), bv, s1);
        s2 = madd(v128.load(a2 + o), bv, s2);
        s3 = madd(v128.load(a3 + o), bv, s3);
      }
    }
    const sums = hsum4(s0, s1, s2, s3);
    let t0 = f32x4.extract_lane(sums, 0), t1 = f32x4.extract_lane(sums, 1);
    let t2 = f32x4.extract_lane(sums, 2), t3 = f32x4.extract_lane(sums, 3);
    for (; p < k; p++) {
      const bv = load<f32>(col + <usize>p * colStep);
      const o = <usize>p << 2;
      t0 += load<f32>(ar + o) * bv;
      t1 += load<f32>(a1 + o) * bv;
      t2 += load<f32>(a2 + o) * bv;
      t3 += load<f32>(a3 + o) * bv;
    }
    const bv: f32 = bias != 0 ? load<f32>(bias + (<usize>j << 2)) : 0;
    for (let i = 0; i < m; i++) {
      const at = c + <usize>i * ldcB + (<usize>j << 2);
      const v = (i == 0 ? t0 : i == 1 ? t1 : i == 2 ? t2 : t3) + bv;
      store<f32>(at, accumulate ? load<f32>(at) + v : v);
    }
  }
}

/**
 * Batched C_b = op(A_b)·op(B_b) (+C_b) (+bias). With strideC = 0 the batch's products go, in
 * order, into one C, so threads then split C itself, never the batch.
 */
export function matmul(
  part: i32, parts: i32, a: usize, b: usize, c: usize, bias: usize, batch: i32, m: i32, n: i32, k: i32,
  transA: i32, transB: i32, sA: i32, sB: i32, sC: i32, accumulate: i32,
): void {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  const tA = transA != 0, tB = transB != 0, acc = accumulate != 0;
  const lda: usize = tA ? m : k;
  const ldb: usize = tB ? k : n;
  const ldc: usize = n;
  const ws = scratch();
  let b0 = 0, b1 = batch, i0 = 0, i1 = m, j0 = 0, j1 = n;
  if (parts > 1) {
    if (sC != 0 && batch >= parts) {
      b0 = splitAt(batch, part, parts, 1);
      b1 = splitAt(batch, part + 1, parts, 1);
    } else if (n >= m) {
      j0 = splitAt(n, part, parts, NR);
      j1 = splitAt(n, part + 1, parts, NR);
    } else {
      i0 = splitAt(m, part, parts, MR);
      i1 = splitAt(m, part + 1, parts, MR);
    }
  }
  if (b0 >= b1 || i0 >= i1 || j0 >= j1) return;
  for (let t = b0; t < b1; t++) {
    let ap = a + (<usize>t * <usize>sA << 2);
    let bp = b + (<usize>t * <usize>sB << 2);
    let cp = c + (<usize>t * <usize>sC << 2);
    let biasp = bias;
    if (i0 > 0) {
      ap += tA ? <usize>i0 << 2 : (<usize>i0 * lda) << 2;
      cp += (<usize>i0 * ldc) << 2;
    }
    if (j0 > 0) {
      bp += tB ? (<usize>j0 * ldb) << 2 : <usize>j0 << 2;
      cp += <usize>j0 << 2;
      if (bias != 0) biasp += <usize>j0 << 2;
    }
    const mm = i1 - i0, nn = j1 - j0;
    if (mm <= MR && k > 0 && <usize>k * MR * 4 <= PACK_A_BYTES) {
      gemmSmallM(ap, bp, cp, biasp, mm, nn, k, tA, tB, lda, ldb, ldc, acc, ws);
    } else {
      gemm(ap, bp, cp, biasp, mm, nn, k, tA, tB, lda, ldb, ldc, acc, ws);
    }
  }
}
