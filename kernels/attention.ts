// Fused causal attention, flash-style: queries in blocks of QB rows walk the keys in blocks of
// KB with an online softmax, so no more than a QB×KB block of scores ever exists. When a head's
// K^T (backward: and V^T) fits the thread's scratch, it is packed once into 8-key panels and the
// score products run on matmul's register-blocked micro-kernel; otherwise (and for single-token
// decoding, where packing would cost as much as the scores) rows are read in place. Backward
// recomputes the probabilities from the saved log-sum-exp and gathers QG query rows of dS and P
// before updating gradK/gradV as small GEMMs, so each gradient element is read and written once
// per group rather than once per query row.
//
// Strides arrive as an i32[15] array: q, k, v, out, gradOut, each [sb, sh, st] in elements; the
// head dimension is contiguous everywhere. gradQ/gradK/gradV are contiguous (b, h, t, d). The two
// i32 after them are the GQA group and the sliding window (0: none). With a window, query i (at key
// position p = i + off) sees keys p − window < j <= p, and each block of queries walks only the
// key blocks its rows can see.

import { splitAt, madd, vexp, hsum4, hmax, scratch, scratchSize } from './common';
import { micro, NR } from './matmul';

const QB = 4;
const KB = 64;
const SROW: usize = KB << 2; // bytes per score row

@inline function rowPtr(base: usize, strides: usize, which: i32, b: i32, h: i32, t: i32): usize {
  const s = strides + (<usize>(which * 3) << 2);
  const off = b * load<i32>(s) + h * load<i32>(s, 4) + t * load<i32>(s, 8);
  return base + (<usize>off << 2);
}

/**
 * First key (which 1) or value (which 2) row of query head h: kv head h / group, the group being
 * the i32 after the 15 strides (1 without grouped-query attention).
 */
@inline function kvRow(base: usize, strides: usize, which: i32, b: i32, h: i32): usize {
  return rowPtr(base, strides, which, b, h / load<i32>(strides, 60), 0);
}

/** The first key visible at key position pos under window w (0: no window). */
@inline function firstKey(pos: i32, w: i32): i32 {
  return w > 0 ? max(0, pos - w + 1) : 0;
}

/**
 * s0[jj] = a0 · B_jj and s1[jj] = a1 · B_jj for jj < jn, where B_jj = bBase + jj·bStride bytes.
 * Two query rows by four keys keep eight accumulators busy per pair of loads.
 */
@inline function dots2(a0: usize, a1: usize, bBase: usize, bStride: usize, jn: i32, d: i32, s0: usize, s1: usize): void {
  const d4 = d & ~3;
  let jj = 0;
  for (; jj + 4 <= jn; jj += 4) {
    const k0 = bBase + <usize>jj * bStride;
    const k1 = k0 + bStride, k2 = k1 + bStride, k3 = k2 + bStride;
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
    // two head-dim chunks per step with immediate offsets: fewer address adds per madd
    const d8 = d & ~7;
    let c = 0;
    for (; c < d8; c += 8) {
      const o = <usize>c << 2;
      const p0 = a0 + o, p1 = a1 + o, q0 = k0 + o, q1 = k1 + o, q2 = k2 + o, q3 = k3 + o;
      let x0 = v128.load(p0), x1 = v128.load(p1);
      let kv = v128.load(q0);
      c00 = madd(x0, kv, c00);
      c10 = madd(x1, kv, c10);
      kv = v128.load(q1);
      c01 = madd(x0, kv, c01);
      c11 = madd(x1, kv, c11);
      kv = v128.load(q2);
      c02 = madd(x0, kv, c02);
      c12 = madd(x1, kv, c12);
      kv = v128.load(q3);
      c03 = madd(x0, kv, c03);
      c13 = madd(x1, kv, c13);
      x0 = v128.load(p0, 16);
      x1 = v128.load(p1, 16);
      kv = v128.load(q0, 16);
      c00 = madd(x0, kv, c00);
      c10 = madd(x1, kv, c10);
      kv = v128.load(q1, 16);
      c01 = madd(x0, kv, c01);
      c11 = madd(x1, kv, c11);
      kv = v128.load(q2, 16);
      c02 = madd(x0, kv, c02);
      c12 = madd(x1, kv, c12);
      kv = v128.load(q3, 16);
      c03 = madd(x0, kv, c03);
      c13 = madd(x1, kv, c13);
    }
    for (; c < d4; c += 4) {
      const o = <usize>c << 2;
      const x0 = v128.load(a0 + o), x1 = v128.load(a1 + o);
      let kv = v128.load(k0 + o);
      c00 = madd(x0, kv, c00);
      c10 = madd(x1, kv, c10);
      kv = v128.load(k1 + o);
      c01 = madd(x0, kv, c01);
      c11 = madd(x1, kv, c11);
      kv = v128.load(k2 + o);
      c02 = madd(x0, kv, c02);
      c12 = madd(x1, kv, c12);
      kv = v128.load(k3 + o);
      c03 = madd(x0, kv, c03);
      c13 = madd(x1, kv, c13);
    }
    let r0 = hsum4(c00, c01, c02, c03);
    let r1 = hsum4(c10, c11, c12, c13);
    if (d4 < d) {
      // leftover head dimensions (d % 4): scalar, lane by lane
      let t00: f32 = 0, t01: f32 = 0, t02: f32 = 0, t03: f32 = 0;
      let t10: f32 = 0, t11: f32 = 0, t12: f32 = 0, t13: f32 = 0;
      for (let c = d4; c < d; c++) {
        const o = <usize>c << 2;
        const x0 = load<f32>(a0 + o), x1 = load<f32>(a1 + o);
        const y0 = load<f32>(k0 + o), y1 = load<f32>(k1 + o), y2 = load<f32>(k2 + o), y3 = load<f32>(k3 + o);
        t00 += x0 * y0; t01 += x0 * y1; t02 += x0 * y2; t03 += x0 * y3;
        t10 += x1 * y0; t11 += x1 * y1; t12 += x1 * y2; t13 += x1 * y3;
      }
      r0 = f32x4.add(r0, f32x4(t00, t01, t02, t03));
      r1 = f32x4.add(r1, f32x4(t10, t11, t12, t13));
    }
    v128.store(s0 + (<usize>jj << 2), r0);
    v128.store(s1 + (<usize>jj << 2), r1);
  }
  for (; jj < jn; jj++) {
    const k0 = bBase + <usize>jj * bStride;
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const o = <usize>c << 2;
      const kv = v128.load(k0 + o);
      c0 = madd(v128.load(a0 + o), kv, c0);
      c1 = madd(v128.load(a1 + o), kv, c1);
    }
    const r = hsum4(c0, c1, c0, c1);
    let t0 = f32x4.extract_lane(r, 0), t1 = f32x4.extract_lane(r, 1);
    for (let c = d4; c < d; c++) {
      const o = <usize>c << 2;
      const y = load<f32>(k0 + o);
      t0 += load<f32>(a0 + o) * y;
      t1 += load<f32>(a1 + o) * y;
    }
    store<f32>(s0 + (<usize>jj << 2), t0);
    store<f32>(s1 + (<usize>jj << 2), t1);
  }
}

/** acc_r[:] += Σ_jj w[r][jj] · B_jj[:] for the QB rows; w rows are SROW bytes apart. */
@inline function accumulateRows(w: usize, bBase: usize, bStride: usize, jn: i32, d: i32, acc: usize, accStride: usize): void {
  const acc1 = acc + accStride, acc2 = acc1 + accStride, acc3 = acc2 + accStride;
  let c = 0;
  for (; c + 8 <= d; c += 8) {
    const o = <usize>c << 2;
    let a00 = v128.load(acc + o), a01 = v128.load(acc + o, 16);
    let a10 = v128.load(acc1 + o), a11 = v128.load(acc1 + o, 16);
    let a20 = v128.load(acc2 + o), a21 = v128.load(acc2 + o, 16);
    let a30 = v128.load(acc3 + o), a31 = v128.load(acc3 + o, 16);
    let bp = bBase + o;
    let wp = w;
    const wEnd = w + (<usize>jn << 2);
    for (; wp < wEnd; wp += 4) {
      const b0 = v128.load(bp), b1 = v128.load(bp, 16);
      let p = v128.load32_splat(wp);
      a00 = madd(p, b0, a00);
      a01 = madd(p, b1, a01);
      p = v128.load32_splat(wp, SROW);
      a10 = madd(p, b0, a10);
      a11 = madd(p, b1, a11);
      p = v128.load32_splat(wp, 2 * SROW);
      a20 = madd(p, b0, a20);
      a21 = madd(p, b1, a21);
      p = v128.load32_splat(wp, 3 * SROW);
      a30 = madd(p, b0, a30);
      a31 = madd(p, b1, a31);
      bp += bStride;
    }
    v128.store(acc + o, a00);
    v128.store(acc + o, a01, 16);
    v128.store(acc1 + o, a10);
    v128.store(acc1 + o, a11, 16);
    v128.store(acc2 + o, a20);
    v128.store(acc2 + o, a21, 16);
    v128.store(acc3 + o, a30);
    v128.store(acc3 + o, a31, 16);
  }
  for (; c + 4 <= d; c += 4) {
    const o = <usize>c << 2;
    let a0 = v128.load(acc + o), a1 = v128.load(acc1 + o), a2 = v128.load(acc2 + o), a3 = v128.load(acc3 + o);
    for (let jj = 0; jj < jn; jj++) {
      const b0 = v128.load(bBase + <usize>jj * bStride + o);
      const wp = w + (<usize>jj << 2);
      a0 = madd(v128.load32_splat(wp), b0, a0);
      a1 = madd(v128.load32_splat(wp, SROW), b0, a1);
      a2 = madd(v128.load32_splat(wp, 2 * SROW), b0, a2);
      a3 = madd(v128.load32_splat(wp, 3 * SROW), b0, a3);
    }
    v128.store(acc + o, a0);
    v128.store(acc1 + o, a1);
    v128.store(acc2 + o, a2);
    v128.store(acc3 + o, a3);
  }
  for (; c < d; c++) {
    const o = <usize>c << 2;
    let a0 = load<f32>(acc + o), a1 = load<f32>(acc1 + o), a2 = load<f32>(acc2 + o), a3 = load<f32>(acc3 + o);
    for (let jj = 0; jj < jn; jj++) {
      const y = load<f32>(bBase + <usize>jj * bStride + o);
      const wp = w + (<usize>jj << 2);
      a0 += load<f32>(wp) * y;
      a1 += load<f32>(wp + SROW) * y;
      a2 += load<f32>(wp + 2 * SROW) * y;
      a3 += load<f32>(wp + 3 * SROW) * y;
    }
    store<f32>(acc + o, a0);
    store<f32>(acc1 + o, a1);
    store<f32>(acc2 + o, a2);
    store<f32>(acc3 + o, a3);
  }
}

/** s0[jj] = a0 · B_jj for jj < jn: one query row (decoding) against four keys at a time. */
@inline function dots1(a0: usize, bBase: usize, bStride: usize, jn: i32, d: i32, s0: usize): void {
  const d4 = d & ~3;
  let jj = 0;
  for (; jj + 4 <= jn; jj += 4) {
    const k0 = bBase + <usize>jj * bStride;
    const k1 = k0 + bStride, k2 = k1 + bStride, k3 = k2 + bStride;
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) {
      const o = <usize>c << 2;
      const x = v128.load(a0 + o);
      c0 = madd(x, v128.load(k0 + o), c0);
      c1 = madd(x, v128.load(k1 + o), c1);
      c2 = madd(x, v128.load(k2 + o), c2);
      c3 = madd(x, v128.load(k3 + o), c3);
    }
    let r = hsum4(c0, c1, c2, c3);
    if (d4 < d) {
      let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
      for (let c = d4; c < d; c++) {
        const o = <usize>c << 2;
        const x = load<f32>(a0 + o);
        t0 += x * load<f32>(k0 + o);
        t1 += x * load<f32>(k1 + o);
        t2 += x * load<f32>(k2 + o);
        t3 += x * load<f32>(k3 + o);
      }
      r = f32x4.add(r, f32x4(t0, t1, t2, t3));
    }
    v128.store(s0 + (<usize>jj << 2), r);
  }
  for (; jj < jn; jj++) {
    const k0 = bBase + <usize>jj * bStride;
    let c0 = f32x4.splat(0);
    for (let c = 0; c < d4; c += 4) c0 = madd(v128.load(a0 + (<usize>c << 2)), v128.load(k0 + (<usize>c << 2)), c0);
    let t = f32x4.extract_lane(hsum4(c0, c0, c0, c0), 0);
    for (let c = d4; c < d; c++) t += load<f32>(a0 + (<usize>c << 2)) * load<f32>(k0 + (<usize>c << 2));
    store<f32>(s0 + (<usize>jj << 2), t);
  }
}

/** acc[:] += Σ_jj w[jj] · B_jj[:] for one row. */
@inline function accumulate1(w: usize, bBase: usize, bStride: usize, jn: i32, d: i32, acc: usize): void {
  let c = 0;
  for (; c + 16 <= d; c += 16) {
    const o = <usize>c << 2;
    let a0 = v128.load(acc + o), a1 = v128.load(acc + o, 16), a2 = v128.load(acc + o, 32), a3 = v128.load(acc + o, 48);
    let bp = bBase + o;
    for (let jj = 0; jj < jn; jj++) {
      const p = v128.load32_splat(w + (<usize>jj << 2));
      a0 = madd(p, v128.load(bp), a0);
      a1 = madd(p, v128.load(bp, 16), a1);
      a2 = madd(p, v128.load(bp, 32), a2);
      a3 = madd(p, v128.load(bp, 48), a3);
      bp += bStride;
    }
    v128.store(acc + o, a0);
    v128.store(acc + o, a1, 16);
    v128.store(acc + o, a2, 32);
    v128.store(acc + o, a3, 48);
  }
  for (; c + 4 <= d; c += 4) {
    const o = <usize>c << 2;
    let a0 = v128.load(acc + o);
    for (let jj = 0; jj < jn; jj++) a0 = madd(v128.load32_splat(w + (<usize>jj << 2)), v128.load(bBase + <usize>jj * bStride + o), a0);
    v128.store(acc + o, a0);
  }
  for (; c < d; c++) {
    const o = <usize>c << 2;
    let t = load<f32>(acc + o);
    for (let jj = 0; jj < jn; jj++) t += load<f32>(w + (<usize>jj << 2)) * load<f32>(bBase + <usize>jj * bStride + o);
    store<f32>(acc + o, t);
  }
}

/** Scores of the QB rows against keys [j0, j0 + jn): S = q·k into s (QB rows of SROW bytes). */
@inline function scoreBlock(q0: usize, q1: usize, q2: usize, q3: usize, kb: usize, ks: usize, jn: i32, d: i32, s: usize): void {
  dots2(q0, q1, kb, ks, jn, d, s, s + SROW);
  dots2(q2, q3, kb, ks, jn, d, s + 2 * SROW, s + 3 * SROW);
}

/** Sets s[jj] = scale·s[jj] for first <= j0 + jj <= last, −Inf elsewhere; returns the maximum. */
@inline function scaleMask(s: usize, jn: i32, j0: i32, first: i32, last: i32, scale: f32): f32 {
  const vs = f32x4.splat(scale);
  const vfirst = i32x4.splat(first - j0);
  const vlast = i32x4.splat(last - j0);
  const ninf = f32x4.splat(-Infinity);
  let vmax = ninf;
  let jj = 0;
  for (; jj + 4 <= jn; jj += 4) {
    const p = s + (<usize>jj << 2);
    const idx = i32x4.add(i32x4.splat(jj), i32x4(0, 1, 2, 3));
    const seen = v128.and(i32x4.le_s(idx, vlast), i32x4.ge_s(idx, vfirst));
    const v = v128.bitselect(f32x4.mul(v128.load(p), vs), ninf, seen);
    v128.store(p, v);
    // pmax is one instruction; a NaN score still poisons its row through exp
    vmax = f32x4.pmax(vmax, v);
  }
  let m = hmax(vmax);
  for (; jj < jn; jj++) {
    const p = s + (<usize>jj << 2);
    const v: f32 = j0 + jj <= last && j0 + jj >= first ? load<f32>(p) * scale : -Infinity;
    store<f32>(p, v);
    m = max(m, v);
  }
  return m;
}

/** s[jj] = exp(s[jj] − m) in place; returns the sum. */
@inline function expShift(s: usize, jn: i32, m: f32): f32 {
  const vm = f32x4.splat(m);
  let sum = f32x4.splat(0);
  let jj = 0;
  for (; jj + 4 <= jn; jj += 4) {
    const p = s + (<usize>jj << 2);
    const e = vexp(f32x4.sub(v128.load(p), vm));
    v128.store(p, e);
    sum = f32x4.add(sum, e);
  }
  let t = hsum4(sum, sum, sum, sum);
  let total = f32x4.extract_lane(t, 0);
  for (; jj < jn; jj++) {
    const p = s + (<usize>jj << 2);
    const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(p) - m)), 0);
    store<f32>(p, e);
    total += e;
  }
  return total;
}

/**
 * Packs the rows [0, t) of a head's K (or V), `stride` bytes apart, into 8-row panels
 * transposed for the matmul micro-kernel: panel p holds, for each c < d, rows 8p..8p+7 of
 * column c. Rows past t are zero.
 */
function packRowsT(src: usize, stride: usize, t: i32, d: i32, dst: usize): void {
  const d4 = d & ~3;
  for (let p0 = 0; p0 < t; p0 += NR) {
    const panel = dst + <usize>p0 * <usize>d * 4;
    const rows = min(NR, t - p0);
    if (rows == NR) {
      for (let half = 0; half < 2; half++) {
        const r0 = src + <usize>(p0 + half * 4) * stride;
        const r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride;
        const dh = panel + (<usize>half << 4);
        for (let c = 0; c < d4; c += 4) {
          const o = <usize>c << 2;
          const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
          const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
          const dc = dh + (<usize>c << 5);
          v128.store(dc, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(dc, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
          v128.store(dc, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
          v128.store(dc, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
        }
        for (let c = d4; c < d; c++) {
          const o = <usize>c << 2;
          const dc = dh + (<usize>c << 5);
          store<f32>(dc, load<f32>(r0 + o));
          store<f32>(dc, load<f32>(r1 + o), 4);
          store<f32>(dc, load<f32>(r2 + o), 8);
          store<f32>(dc, load<f32>(r3 + o), 12);
        }
      }
    } else {
      for (let c = 0; c < d; c++) {
        for (let r = 0; r < NR; r++) {
          const v: f32 = r < rows ? load<f32>(src + <usize>(p0 + r) * stride + (<usize>c << 2)) : 0;
          store<f32>(panel + ((<usize>(c * NR + r)) << 2), v);
        }
      }
    }
  }
}

/** Interleaves the QB rows for the micro-kernel: dst[c·4 + r] = row_r[c]. */
@inline function packRows4(r0: usize, r1: usize, r2: usize, r3: usize, d: i32, dst: usize): void {
  for (let c = 0; c < d; c++) {
    const o = <usize>c << 2;
    v128.store(dst + (<usize>c << 4), f32x4(load<f32>(r0 + o), load<f32>(r1 + o), load<f32>(r2 + o), load<f32>(r3 + o)));
  }
}

/**
 * Scores of the QB rows against keys [j0, j0 + jn): from the packed rows and transposed key
 * panels when `kt` != 0 (register-blocked like matmul), else from the rows themselves.
 */
@inline function scores(
  rp: usize, kt: usize, r0: usize, r1: usize, r2: usize, r3: usize, kBase: usize, ks: usize,
  j0: i32, jn: i32, d: i32, s: usize,
): void {
  if (kt != 0) {
    const panelBytes = <usize>d << 5;
    const first = kt + <usize>(j0 >> 3) * panelBytes;
    for (let jj = 0; jj < jn; jj += NR) {
      micro(d, rp, 16, first + <usize>(jj >> 3) * panelBytes, 32, s + (<usize>jj << 2), SROW, QB, NR, false, 0, 0);
    }
  } else {
    scoreBlock(r0, r1, r2, r3, kBase + <usize>j0 * ks, ks, jn, d, s);
  }
}

/** Scratch layout shared by both directions (byte offsets from the thread's scratch). */
@inline function fixedBytes(d: i32): usize {
  return 2 * <usize>QB * SROW + 4 * (<usize>QB * <usize>d << 2) + 64;
}

/** Whether K^T (and for backward V^T) panels of tk keys fit after the fixed scratch. */
@inline function panelsFit(tk: i32, d: i32, copies: usize): bool {
  const tkPad = <usize>((tk + NR - 1) & ~(NR - 1));
  return fixedBytes(d) + copies * tkPad * (<usize>d << 2) <= scratchSize();
}

/** One block of QB query rows of head (b, h) through all its visible keys. */
@inline function forwardBlock(
  q: usize, k: usize, v: usize, out: usize, strides: usize, lse: usize, heads: i32, tq: i32, tk: i32, d: i32,
  scale: f32, off: i32, bh: i32, i0: i32, kt: usize, ws: usize,
): void {
  const b = bh / heads, h = bh - b * heads;
  const s = ws;
  const accStride = <usize>d << 2;
  const acc = s + <usize>QB * SROW;
  const mState = acc + <usize>QB * accStride; // m, l per row
  const rp = mState + 64;
  const ks = <usize>load<i32>(strides, 20) << 2;
  const vs = <usize>load<i32>(strides, 32) << 2;
  const rows = min(QB, tq - i0);
  const w = load<i32>(strides, 64);
  const last3 = min(tk - 1, i0 + rows - 1 + off);
  // The block's first row sees the earliest key; aligned down to a key panel for scores().
  const first0 = firstKey(i0 + off, w);
  if (last3 < 0 || first0 > last3) {
    for (let r = 0; r < rows; r++) {
      const o = rowPtr(out, strides, 3, b, h, i0 + r);
      memory.fill(o, 0, accStride);
      store<f32>(lse + ((<usize>(bh * tq + i0 + r)) << 2), -Infinity);
    }
    return;
  }
  const q0 = rowPtr(q, strides, 0, b, h, i0);
  const q1 = rowPtr(q, strides, 0, b, h, i0 + min(1, rows - 1));
  const q2 = rowPtr(q, strides, 0, b, h, i0 + min(2, rows - 1));
  const q3 = rowPtr(q, strides, 0, b, h, i0 + min(3, rows - 1));
  if (kt != 0 && rows > 1) packRows4(q0, q1, q2, q3, d, rp);
  const kBase = kvRow(k, strides, 1, b, h);
  const vBase = kvRow(v, strides, 2, b, h);
  memory.fill(acc, 0, <usize>QB * accStride);
  for (let r = 0; r < QB; r++) {
    store<f32>(mState + (<usize>r << 3), -Infinity);
    store<f32>(mState + (<usize>r << 3), 0, 4);
  }
  const kEnd = last3 + 1;
  for (let j0 = first0 & ~(NR - 1); j0 < kEnd; j0 += KB) {
    const jn = min(KB, kEnd - j0);
    // a lone row (decoding one token, or a block's last row) skips the three padding rows
    if (rows == 1) dots1(q0, kBase + <usize>j0 * ks, ks, jn, d, s);
    else scores(rp, kt, q0, q1, q2, q3, kBase, ks, j0, jn, d, s);
    for (let r = 0; r < (rows == 1 ? 1 : QB); r++) {
      const sr = s + <usize>r * SROW;
      const pos = i0 + min(r, rows - 1) + off;
      const bm = scaleMask(sr, jn, j0, firstKey(pos, w), min(tk - 1, pos), scale);
      const mp = mState + (<usize>r << 3);
      const mOld = load<f32>(mp);
      let mNew = max(mOld, bm);
      // a row with no visible key keeps m = −Inf; shifting by 0 keeps exp(−Inf − m) = 0
      if (mNew == -Infinity) mNew = 0;
      const alpha = f32x4.extract_lane(vexp(f32x4.splat(mOld - mNew)), 0);
      const sum = expShift(sr, jn, mNew);
      store<f32>(mp, mNew);
      store<f32>(mp, load<f32>(mp, 4) * alpha + sum, 4);
      if (alpha != 1) {
        const ar = acc + <usize>r * accStride;
        const va = f32x4.splat(alpha);
        let c = 0;
        for (; c + 4 <= d; c += 4) v128.store(ar + (<usize>c << 2), f32x4.mul(v128.load(ar + (<usize>c << 2)), va));
        for (; c < d; c++) store<f32>(ar + (<usize>c << 2), load<f32>(ar + (<usize>c << 2)) * alpha);
      }
    }
    if (rows == 1) accumulate1(s, vBase + <usize>j0 * vs, vs, jn, d, acc);
    else accumulateRows(s, vBase + <usize>j0 * vs, vs, jn, d, acc, accStride);
  }
  for (let r = 0; r < rows; r++) {
    const o = rowPtr(out, strides, 3, b, h, i0 + r);
    const ar = acc + <usize>r * accStride;
    const mp = mState + (<usize>r << 3);
    const l = load<f32>(mp, 4);
    const lsePtr = lse + ((<usize>(bh * tq + i0 + r)) << 2);
    const pos = i0 + r + off;
    if (pos < 0 || firstKey(pos, w) > min(tk - 1, pos)) {
      memory.fill(o, 0, accStride);
      store<f32>(lsePtr, -Infinity);
      continue;
    }
    const inv = f32x4.splat(<f32>(1.0 / <f64>l));
    let c = 0;
    for (; c + 4 <= d; c += 4) v128.store(o + (<usize>c << 2), f32x4.mul(v128.load(ar + (<usize>c << 2)), inv));
    const invS = f32x4.extract_lane(inv, 0);
    for (; c < d; c++) store<f32>(o + (<usize>c << 2), load<f32>(ar + (<usize>c << 2)) * invS);
    store<f32>(lsePtr, <f32>(<f64>load<f32>(mp) + Math.log(<f64>l)));
  }
}

// Blocks of at least this many query rows pack K^T once per head; single-token decoding
// (tq = 1) reads K in place, as packing would cost as much as the scores.
const PACK_MIN_TQ = 8;

export function attentionForward(
  part: i32, parts: i32, q: usize, k: usize, v: usize, out: usize, strides: usize, lse: usize,
  batch: i32, heads: i32, tq: i32, tk: i32, d: i32, scale: f32, off: i32,
): void {
  const pairs = batch * heads;
  const nqb = (tq + QB - 1) / QB;
  const ws = scratch();
  const kt = ws + fixedBytes(d);
  const pack = tq >= PACK_MIN_TQ && panelsFit(tk, d, 1);
  const ks = <usize>load<i32>(strides, 20) << 2;
  if (pairs >= parts) {
    // whole heads per part: K^T is packed once per head
    const p0 = splitAt(pairs, part, parts, 1);
    const p1 = splitAt(pairs, part + 1, parts, 1);
    for (let bh = p0; bh < p1; bh++) {
      if (pack) {
        const b = bh / heads, h = bh - b * heads;
        packRowsT(kvRow(k, strides, 1, b, h), ks, tk, d, kt);
      }
      for (let i0 = 0; i0 < tq; i0 += QB) {
        forwardBlock(q, k, v, out, strides, lse, heads, tq, tk, d, scale, off, bh, i0, pack ? kt : 0, ws);
      }
    }
    return;
  }
  // Few heads: parts interleave query blocks (balancing the causal triangle), packing per head.
  let packed = -1;
  for (let u = part; u < pairs * nqb; u += parts) {
    const bh = u / nqb;
    if (pack && bh != packed) {
      const b = bh / heads, h = bh - b * heads;
      packRowsT(kvRow(k, strides, 1, b, h), ks, tk, d, kt);
      packed = bh;
    }
    forwardBlock(q, k, v, out, strides, lse, heads, tq, tk, d, scale, off, bh, (u - bh * nqb) * QB, pack ? kt : 0, ws);
  }
}

@inline function dotRow(a: usize, b: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= d; c += 4) acc = madd(v128.load(a + (<usize>c << 2)), v128.load(b + (<usize>c << 2)), acc);
  let t = f32x4.extract_lane(hsum4(acc, acc, acc, acc), 0);
  for (; c < d; c++) t += load<f32>(a + (<usize>c << 2)) * load<f32>(b + (<usize>c << 2));
  return t;
}

/** Query rows whose dS and P rows are gathered before updating gradK / gradV. */
const QG = 16;

/**
 * dst rows jj < jn (contiguous, d floats each) += Σ_r w[r][jj] · x_r for the rows r < kc of a
 * query group (w rows SROW bytes apart, x rows xStep bytes apart): a small GEMM whose register
 * tiles (4 keys × 8 dims) read and write each gradient element once per group, not per row.
 * The dims past the last multiple of 8 take a plain loop, so no load runs past a row's end.
 */
@inline function scatterGroup(w: usize, x: usize, xStep: usize, kc: i32, jn: i32, d: i32, dst: usize, tile: usize): void {
  const rowBytes = <usize>d << 2;
  const d8 = d & ~7;
  for (let jj = 0; jj < jn; jj += 4) {
    const mr = min(4, jn - jj);
    const row = dst + <usize>jj * rowBytes;
    for (let c = 0; c < d8; c += 8) {
      micro(kc, w + (<usize>jj << 2), SROW, x + (<usize>c << 2), xStep, row + (<usize>c << 2), rowBytes, mr, NR, true, 0, tile);
    }
    for (let c = d8; c < d; c++) {
      const o = <usize>c << 2;
      for (let m = 0; m < mr; m++) {
        let t: f32 = 0;
        for (let r = 0; r < kc; r++) t += load<f32>(w + <usize>r * SROW + (<usize>(jj + m) << 2)) * load<f32>(x + <usize>r * xStep + o);
        const at = row + <usize>m * rowBytes + o;
        store<f32>(at, load<f32>(at) + t);
      }
    }
  }
}

/**
 * Parts own whole (b, h) pairs, so the gradK/gradV rows they accumulate into never race.
 * Per group of QG query rows and block of KB keys: P = exp(scale·qk − lse), dP = dO·v,
 * dS = P (dP − Δ) scale with Δ = dO·out, then dQ += dS k, dK += dSᵀ q, dV += Pᵀ dO.
 */
export function attentionBackward(
  part: i32, parts: i32, q: usize, k: usize, v: usize, out: usize, strides: usize, lse: usize,
  gout: usize, gq: usize, gk: usize, gv: usize,
  batch: i32, heads: i32, tq: i32, tk: i32, d: i32, scale: f32, off: i32,
): void {
  const pairs = batch * heads;
  const p0 = splitAt(pairs, part, parts, 1);
  const p1 = splitAt(pairs, part + 1, parts, 1);
  const rowBytes = <usize>d << 2;
  const ws = scratch();
  const sP = ws; // QG rows of P
  const sD = sP + <usize>QG * SROW; // QG rows of dP, then dS
  const dq = sD + <usize>QG * SROW; // QG rows of dQ
  const qp = dq + <usize>QG * rowBytes; // 4 packed q rows
  const gp = qp + <usize>QB * rowBytes; // 4 packed dO rows
  const delta = gp + <usize>QB * rowBytes; // QG values of Δ
  const tile = delta + <usize>QG * 4;
  const kt = tile + 128;
  const tkPad = <usize>((tk + NR - 1) & ~(NR - 1));
  const vt = kt + tkPad * rowBytes;
  const pack = tq >= PACK_MIN_TQ && (vt + tkPad * rowBytes - ws) <= scratchSize();
  const ks = <usize>load<i32>(strides, 20) << 2;
  const vs = <usize>load<i32>(strides, 32) << 2;
  const qst = <usize>load<i32>(strides, 8) << 2;
  const gst = <usize>load<i32>(strides, 56) << 2;
  const vsc = f32x4.splat(scale);
  const w = load<i32>(strides, 64);
  for (let bh = p0; bh < p1; bh++) {
    const b = bh / heads, h = bh - b * heads;
    const kBase = kvRow(k, strides, 1, b, h);
    const vBase = kvRow(v, strides, 2, b, h);
    const gkBase = gk + <usize>bh * <usize>tk * rowBytes;
    const gvBase = gv + <usize>bh * <usize>tk * rowBytes;
    if (pack) {
      packRowsT(kBase, ks, tk, d, kt);
      packRowsT(vBase, vs, tk, d, vt);
    }
    for (let g0 = 0; g0 < tq; g0 += QG) {
      const grows = min(QG, tq - g0);
      const lastG = min(tk - 1, g0 + grows - 1 + off);
      const firstG = firstKey(g0 + off, w);
      if (lastG < 0 || firstG > lastG) continue;
      for (let r = 0; r < grows; r++) {
        const i = g0 + r;
        store<f32>(delta + (<usize>r << 2), dotRow(rowPtr(gout, strides, 4, b, h, i), rowPtr(out, strides, 3, b, h, i), d));
      }
      memory.fill(dq, 0, <usize>QG * rowBytes);
      const kEnd = lastG + 1;
      for (let j0 = firstG & ~(NR - 1); j0 < kEnd; j0 += KB) {
        const jn = min(KB, kEnd - j0);
        for (let i0 = g0; i0 < g0 + grows; i0 += QB) {
          const rows = min(QB, tq - i0);
          const sb = <usize>(i0 - g0) * SROW;
          if (min(tk - 1, i0 + rows - 1 + off) < j0 || firstKey(i0 + off, w) >= j0 + jn) {
            // These rows see none of the block's keys (causal diagonal, or outside the window):
            // zero P and dS rows add nothing to dK and dV, and dQ gets nothing.
            memory.fill(sP + sb, 0, <usize>QB * SROW);
            memory.fill(sD + sb, 0, <usize>QB * SROW);
            continue;
          }
          const r1 = min(1, rows - 1), r2 = min(2, rows - 1), r3 = min(3, rows - 1);
          const q0 = rowPtr(q, strides, 0, b, h, i0), q1 = rowPtr(q, strides, 0, b, h, i0 + r1);
          const q2 = rowPtr(q, strides, 0, b, h, i0 + r2), q3 = rowPtr(q, strides, 0, b, h, i0 + r3);
          const g0r = rowPtr(gout, strides, 4, b, h, i0), g1 = rowPtr(gout, strides, 4, b, h, i0 + r1);
          const g2 = rowPtr(gout, strides, 4, b, h, i0 + r2), g3 = rowPtr(gout, strides, 4, b, h, i0 + r3);
          if (pack) {
            packRows4(q0, q1, q2, q3, d, qp);
            packRows4(g0r, g1, g2, g3, d, gp);
          }
          scores(qp, pack ? kt : 0, q0, q1, q2, q3, kBase, ks, j0, jn, d, sP + sb);
          scores(gp, pack ? vt : 0, g0r, g1, g2, g3, vBase, vs, j0, jn, d, sD + sb);
          for (let r = 0; r < QB; r++) {
            const pr = sP + sb + <usize>r * SROW;
            const dr = sD + sb + <usize>r * SROW;
            const rr = min(r, rows - 1);
            // padded rows (r >= rows) get P = 0 and dS = 0, adding nothing to dK/dV
            const last = r < rows ? min(tk - 1, i0 + rr + off) : -1;
            const first = firstKey(i0 + rr + off, w);
            // a row with no visible key has lse = −Inf; any finite shift keeps its P at 0
            const l: f32 = last < first ? 0 : load<f32>(lse + ((<usize>(bh * tq + i0 + rr)) << 2));
            scaleMask(pr, jn, j0, first, last, scale);
            expShift(pr, jn, l);
            const dl = f32x4.splat(load<f32>(delta + (<usize>(i0 - g0 + rr) << 2)));
            let jj = 0;
            for (; jj + 4 <= jn; jj += 4) {
              const o = <usize>jj << 2;
              v128.store(dr + o, f32x4.mul(f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(dr + o), dl)), vsc));
            }
            const dlS = f32x4.extract_lane(dl, 0);
            for (; jj < jn; jj++) {
              const o = <usize>jj << 2;
              store<f32>(dr + o, load<f32>(pr + o) * (load<f32>(dr + o) - dlS) * scale);
            }
          }
          accumulateRows(sD + sb, kBase + <usize>j0 * ks, ks, jn, d, dq + <usize>(i0 - g0) * rowBytes, rowBytes);
        }
        scatterGroup(sD, rowPtr(q, strides, 0, b, h, g0), qst, grows, jn, d, gkBase + <usize>j0 * rowBytes, tile);
        scatterGroup(sP, rowPtr(gout, strides, 4, b, h, g0), gst, grows, jn, d, gvBase + <usize>j0 * rowBytes, tile);
      }
      for (let r = 0; r < grows; r++) {
        const dst = gq + (<usize>(bh * tq + g0 + r)) * rowBytes;
        const src = dq + <usize>r * rowBytes;
        let c = 0;
        for (; c + 4 <= d; c += 4) {
          const o = <usize>c << 2;
          v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
        }
        for (; c < d; c++) {
          const o = <usize>c << 2;
          store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
        }
      }
    }
  }
}

/** Scratch bytes one thread needs for head dimension d (without packed K^T / V^T panels). */
export function attentionScratchBytes(d: i32): i32 {
  return <i32>max(fixedBytes(d), 2 * <usize>QG * SROW + (<usize>(QG + 2 * QB) * <usize>d << 2) + <usize>QG * 4 + 128);
}
