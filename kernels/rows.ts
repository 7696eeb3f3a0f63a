// Row-wise kernels: reductions, embeddings, layerNorm, softmax, cross-entropy. Parts split rows
// (or, where rows would race on a shared output, columns or per-part partial sums).

import { splitAt, madd, vexp, hsum, hmax, partial, partialSize } from './common';
import { ReduceOp } from './enums';

// ---- reduce ----

@inline function rowSum(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, v128.load(p + o));
    a1 = f32x4.add(a1, v128.load(p + o, 16));
  }
  for (; i + 4 <= n; i += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>i << 2)));
  let s = hsum(f32x4.add(a0, a1));
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

/**
 * Row maximum; NaN anywhere gives NaN (f32x4.max and the scalar tail both propagate it). Four
 * independent maxima: V8's NaN-correct f32x4.max is a chain of several instructions, and one
 * accumulator would make the loop wait on it.
 */
@inline function rowMax(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(-Infinity), a1 = a0, a2 = a0, a3 = a0;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = p + (<usize>i << 2);
    a0 = f32x4.max(a0, v128.load(q));
    a1 = f32x4.max(a1, v128.load(q, 16));
    a2 = f32x4.max(a2, v128.load(q, 32));
    a3 = f32x4.max(a3, v128.load(q, 48));
  }
  for (; i + 4 <= n; i += 4) a0 = f32x4.max(a0, v128.load(p + (<usize>i << 2)));
  let m = hmax(f32x4.max(f32x4.max(a0, a1), f32x4.max(a2, a3)));
  for (; i < n; i++) m = max(m, load<f32>(p + (<usize>i << 2)));
  return m;
}

/**
 * out[o, i] = reduce_k x[o, k, i]. Max keeps the first maximum, and a NaN wins and sticks (as
 * PyTorch); an empty axis gives -Infinity and index -1.
 */
export function reduce(part: i32, parts: i32, op: i32, x: usize, out: usize, arg: usize, outer: i32, axis: i32, inner: i32): void {
  // Work units: (o, block of 64 inner columns), so both tall and wide shapes split evenly.
  const blocks = (inner + 63) >> 6;
  const units = outer * blocks;
  const u0 = splitAt(units, part, parts, 1);
  const u1 = splitAt(units, part + 1, parts, 1);
  for (let u = u0; u < u1; u++) {
    const o = u / blocks;
    const i0 = (u - o * blocks) << 6;
    const i1 = min(inner, i0 + 64);
    const base = x + (<usize>o * <usize>axis * <usize>inner << 2);
    const dst = <usize>o * <usize>inner;
    if (op == ReduceOp.Sum) {
      if (inner == 1) {
        store<f32>(out + (dst << 2), rowSum(base, axis));
        continue;
      }
      const ob = out + (dst << 2);
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        let a = f32x4.splat(0);
        for (let k = 0; k < axis; k++) a = f32x4.add(a, v128.load(base + ((<usize>k * <usize>inner + <usize>i) << 2)));
        v128.store(ob + (<usize>i << 2), a);
      }
      for (; i < i1; i++) {
        let a: f32 = 0;
        for (let k = 0; k < axis; k++) a += load<f32>(base + ((<usize>k * <usize>inner + <usize>i) << 2));
        store<f32>(ob + (<usize>i << 2), a);
      }
    } else if (op == ReduceOp.Max) {
      for (let i = i0; i < i1; i++) {
        const col = base + (<usize>i << 2);
        const stride = <usize>inner << 2;
        let best: f32 = -Infinity;
        let at = -1;
        if (inner == 1 && arg == 0) {
          best = axis > 0 ? rowMax(col, axis) : -Infinity;
        } else if (axis > 0) {
          best = load<f32>(col);
          at = 0;
          for (let k = 1; k < axis; k++) {
            const v = load<f32>(col + <usize>k * stride);
            if (v > best || (v != v && best == best)) {
              best = v;
              at = k;
            }
          }
        }
        store<f32>(out + ((dst + <usize>i) << 2), best);
        if (arg != 0) store<i32>(arg + ((dst + <usize>i) << 2), at);
      }
    } else {
      unreachable(); // an op id this module lacks: trap rather than compute another op
    }
  }
}

// ---- embedding ----

export function embeddingForward(part: i32, parts: i32, table: usize, ids: usize, out: usize, rows: i32, dim: i32): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>dim << 2;
  for (let r = r0; r < r1; r++) {
    const id = load<i32>(ids + (<usize>r << 2));
    memory.copy(out + <usize>r * bytes, table + <usize>id * bytes, bytes);
  }
}

/** Threads own column ranges, so repeated ids never race. */
export function embeddingBackward(part: i32, parts: i32, ids: usize, g: usize, gt: usize, rows: i32, dim: i32): void {
  const c0 = splitAt(dim, part, parts, 4);
  const c1 = splitAt(dim, part + 1, parts, 4);
  if (c0 >= c1) return;
  const bytes = <usize>dim << 2;
  for (let r = 0; r < rows; r++) {
    const id = load<i32>(ids + (<usize>r << 2));
    const src = g + <usize>r * bytes;
    const dst = gt + <usize>id * bytes;
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const o = <usize>c << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; c < c1; c++) {
      const o = <usize>c << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
}

// ---- layerNorm ----

export function layerNormForward(
  part: i32, parts: i32, x: usize, gamma: usize, beta: usize, out: usize, mean: usize, rstd: usize,
  rows: i32, dim: i32, eps: f32,
): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>dim << 2;
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * bytes;
    const o = out + <usize>r * bytes;
    const mu = rowSum(row, dim) / <f32>dim;
    const vmu = f32x4.splat(mu);
    // two passes: E[(x − mean)²] keeps its digits when |mean| >> std
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
    let c = 0;
    for (; c + 8 <= dim; c += 8) {
      const d0 = f32x4.sub(v128.load(row + (<usize>c << 2)), vmu);
      const d1 = f32x4.sub(v128.load(row + (<usize>c << 2), 16), vmu);
      a0 = madd(d0, d0, a0);
      a1 = madd(d1, d1, a1);
    }
    let sq = hsum(f32x4.add(a0, a1));
    for (; c < dim; c++) {
      const d = load<f32>(row + (<usize>c << 2)) - mu;
      sq += d * d;
    }
    const rs = <f32>(1.0 / Math.sqrt(<f64>sq / <f64>dim + <f64>eps));
    const vrs = f32x4.splat(rs);
    c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(row + b), vmu), vrs);
      v128.store(o + b, madd(xh, v128.load(gamma + b), v128.load(beta + b)));
    }
    for (; c < dim; c++) {
      const b = <usize>c << 2;
      store<f32>(o + b, (load<f32>(row + b) - mu) * rs * load<f32>(gamma + b) + load<f32>(beta + b));
    }
    store<f32>(mean + (<usize>r << 2), mu);
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

/**
 * gradX += rstd (dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)), dxhat = gradOut·gamma. With
 * several parts (split != 0), each part's gradGamma/gradBeta sums go to its partial slice and
 * layerNormReduce adds them after the call; with one part they are accumulated in place.
 */
export function layerNormBackward(
  part: i32, parts: i32, x: usize, gamma: usize, mean: usize, rstd: usize, gout: usize, gx: usize,
  ggamma: usize, gbeta: usize, rows: i32, dim: i32,
): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>dim << 2;
  let gg = ggamma, gb = gbeta;
  // Split calls sum each part's gradGamma/gradBeta in its partials; the caller adds them up.
  if (parts > 1) {
    gg = partial(part);
    gb = gg + bytes;
    memory.fill(gg, 0, bytes << 1);
  }
  const invDim: f32 = 1.0 / <f32>dim;
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * bytes;
    const go = gout + <usize>r * bytes;
    const gxr = gx + <usize>r * bytes;
    const mu = f32x4.splat(load<f32>(mean + (<usize>r << 2)));
    const rsS = load<f32>(rstd + (<usize>r << 2));
    const rs = f32x4.splat(rsS);
    let sd = f32x4.splat(0), sdx = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(row + b), mu), rs);
      const g = v128.load(go + b);
      const dxh = f32x4.mul(g, v128.load(gamma + b));
      sd = f32x4.add(sd, dxh);
      sdx = madd(dxh, xh, sdx);
      v128.store(gg + b, madd(g, xh, v128.load(gg + b)));
      v128.store(gb + b, f32x4.add(g, v128.load(gb + b)));
    }
    let meanD = hsum(sd), meanDX = hsum(sdx);
    const muS = f32x4.extract_lane(mu, 0);
    for (let t = c; t < dim; t++) {
      const b = <usize>t << 2;
      const xh = (load<f32>(row + b) - muS) * rsS;
      const g = load<f32>(go + b);
      const dxh = g * load<f32>(gamma + b);
      meanD += dxh;
      meanDX += dxh * xh;
      store<f32>(gg + b, load<f32>(gg + b) + g * xh);
      store<f32>(gb + b, load<f32>(gb + b) + g);
    }
    meanD *= invDim;
    meanDX *= invDim;
    const vmD = f32x4.splat(meanD), vmDX = f32x4.splat(meanDX);
    c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(row + b), mu), rs);
      const dxh = f32x4.mul(v128.load(go + b), v128.load(gamma + b));
      const d = f32x4.sub(f32x4.sub(dxh, vmD), f32x4.mul(xh, vmDX));
      v128.store(gxr + b, madd(rs, d, v128.load(gxr + b)));
    }
    for (; c < dim; c++) {
      const b = <usize>c << 2;
      const xh = (load<f32>(row + b) - muS) * rsS;
      const dxh = load<f32>(go + b) * load<f32>(gamma + b);
      store<f32>(gxr + b, load<f32>(gxr + b) + rsS * (dxh - meanD - xh * meanDX));
    }
  }
}

/** Adds the gradGamma/gradBeta sums of the parts of a split layerNormBackward. */
export function layerNormReduce(parts: i32, ggamma: usize, gbeta: usize, dim: i32): void {
  const bytes = <usize>dim << 2;
  for (let t = 0; t < parts; t++) {
    const gg = partial(t);
    const gb = gg + bytes;
    let c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      v128.store(ggamma + b, f32x4.add(v128.load(ggamma + b), v128.load(gg + b)));
      v128.store(gbeta + b, f32x4.add(v128.load(gbeta + b), v128.load(gb + b)));
    }
    for (; c < dim; c++) {
      const b = <usize>c << 2;
      store<f32>(ggamma + b, load<f32>(ggamma + b) + load<f32>(gg + b));
      store<f32>(gbeta + b, load<f32>(gbeta + b) + load<f32>(gb + b));
    }
  }
}

/** Largest dim whose gradGamma/gradBeta sums fit one partial slice. */
export function layerNormMaxPartialDim(): i32 {
  return <i32>(partialSize() >> 3);
}

// ---- rmsNorm ----

export function rmsNormForward(part: i32, parts: i32, x: usize, gamma: usize, out: usize, rstd: usize, rows: i32, dim: i32, eps: f32): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>dim << 2;
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * bytes;
    const o = out + <usize>r * bytes;
    const rs = <f32>(1.0 / Math.sqrt(<f64>rowDot(row, row, dim) / <f64>dim + <f64>eps));
    const vrs = f32x4.splat(rs);
    let c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      v128.store(o + b, f32x4.mul(f32x4.mul(v128.load(row + b), vrs), v128.load(gamma + b)));
    }
    for (; c < dim; c++) {
      const b = <usize>c << 2;
      store<f32>(o + b, load<f32>(row + b) * rs * load<f32>(gamma + b));
    }
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

/** Σ a[i]·b[i]·w[i] over n floats (w = 0: Σ a[i]·b[i]). */
@inline function rowDot3(a: usize, b: usize, w: usize, n: i32): f32 {
  let s0 = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const ab = f32x4.mul(v128.load(a + o), v128.load(b + o));
    s0 = w != 0 ? madd(ab, v128.load(w + o), s0) : f32x4.add(s0, ab);
  }
  let s = hsum(s0);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const ab = load<f32>(a + o) * load<f32>(b + o);
    s += w != 0 ? ab * load<f32>(w + o) : ab;
  }
  return s;
}

@inline function rowDot(a: usize, b: usize, n: i32): f32 {
  return rowDot3(a, b, 0, n);
}

export function rmsNormBackward(part: i32, parts: i32, x: usize, gamma: usize, rstd: usize, gout: usize, gx: usize, rows: i32, dim: i32): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>dim << 2;
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * bytes;
    const go = gout + <usize>r * bytes;
    const gxr = gx + <usize>r * bytes;
    const rs = load<f32>(rstd + (<usize>r << 2));
    // mean(dxhat · xhat) = rstd · Σ gradOut·gamma·x / dim
    const m = rowDot3(go, row, gamma, dim) * rs / <f32>dim;
    const vrs = f32x4.splat(rs), vk = f32x4.splat(rs * m);
    let c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      const dxh = f32x4.mul(v128.load(go + b), v128.load(gamma + b));
      const d = f32x4.sub(dxh, f32x4.mul(v128.load(row + b), vk));
      v128.store(gxr + b, madd(vrs, d, v128.load(gxr + b)));
    }
    for (; c < dim; c++) {
      const b = <usize>c << 2;
      const dxh = load<f32>(go + b) * load<f32>(gamma + b);
      store<f32>(gxr + b, load<f32>(gxr + b) + rs * (dxh - load<f32>(row + b) * rs * m));
    }
  }
}

export function rmsNormGammaBackward(part: i32, parts: i32, x: usize, rstd: usize, gout: usize, gg: usize, rows: i32, dim: i32): void {
  const c0 = splitAt(dim, part, parts, 4);
  const c1 = splitAt(dim, part + 1, parts, 4);
  if (c0 >= c1) return;
  const bytes = <usize>dim << 2;
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * bytes;
    const go = gout + <usize>r * bytes;
    const rs = load<f32>(rstd + (<usize>r << 2));
    const vrs = f32x4.splat(rs);
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const o = <usize>c << 2;
      v128.store(gg + o, madd(f32x4.mul(v128.load(go + o), v128.load(row + o)), vrs, v128.load(gg + o)));
    }
    for (; c < c1; c++) {
      const o = <usize>c << 2;
      store<f32>(gg + o, load<f32>(gg + o) + load<f32>(go + o) * load<f32>(row + o) * rs);
    }
  }
}

// ---- rope ----

/** Rotates (x[c], x[c + h]) pairs by their position's angle; inverse: by minus it, added into out. */
@inline function rotateHalf(part: i32, parts: i32, x: usize, cos: usize, sin: usize, out: usize, rows: i32, seq: i32, heads: i32, dim: i32, offset: i32, inverse: bool): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const h = dim >> 1;
  const hb = <usize>h << 2;
  for (let r = r0; r < r1; r++) {
    const t = <usize>(offset + r % seq) * hb;
    for (let hd = 0; hd < heads; hd++) {
      const base = (<usize>r * <usize>heads + <usize>hd) * (<usize>dim << 2);
      const xa = x + base, xb = xa + hb, oa = out + base, ob = oa + hb;
      let c = 0;
      for (; c + 4 <= h; c += 4) {
        const o = <usize>c << 2;
        const co = v128.load(cos + t + o);
        let si = v128.load(sin + t + o);
        if (inverse) si = f32x4.neg(si);
        const a = v128.load(xa + o), b = v128.load(xb + o);
        let lo = f32x4.sub(f32x4.mul(a, co), f32x4.mul(b, si));
        let hi = madd(a, si, f32x4.mul(b, co));
        if (inverse) {
          lo = f32x4.add(lo, v128.load(oa + o));
          hi = f32x4.add(hi, v128.load(ob + o));
        }
        v128.store(oa + o, lo);
        v128.store(ob + o, hi);
      }
      for (; c < h; c++) {
        const o = <usize>c << 2;
        const co = load<f32>(cos + t + o);
        const si = inverse ? -load<f32>(sin + t + o) : load<f32>(sin + t + o);
        const a = load<f32>(xa + o), b = load<f32>(xb + o);
        const lo = a * co - b * si, hi = b * co + a * si;
        store<f32>(oa + o, inverse ? load<f32>(oa + o) + lo : lo);
        store<f32>(ob + o, inverse ? load<f32>(ob + o) + hi : hi);
      }
    }
  }
}

export function ropeForward(part: i32, parts: i32, x: usize, cos: usize, sin: usize, out: usize, rows: i32, seq: i32, heads: i32, dim: i32, offset: i32): void {
  rotateHalf(part, parts, x, cos, sin, out, rows, seq, heads, dim, offset, false);
}

export function ropeBackward(part: i32, parts: i32, g: usize, cos: usize, sin: usize, gx: usize, rows: i32, seq: i32, heads: i32, dim: i32, offset: i32): void {
  rotateHalf(part, parts, g, cos, sin, gx, rows, seq, heads, dim, offset, true);
}

// ---- softmax ----

/** Σ exp(x − m) over a row, writing the exponentials to `dst` when dst != 0. */
@inline function expSum(row: usize, dst: usize, n: i32, m: f32): f32 {
  const vm = f32x4.splat(m);
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let c = 0;
  for (; c + 8 <= n; c += 8) {
    const b = <usize>c << 2;
    const e0 = vexp(f32x4.sub(v128.load(row + b), vm));
    const e1 = vexp(f32x4.sub(v128.load(row + b, 16), vm));
    if (dst != 0) {
      v128.store(dst + b, e0);
      v128.store(dst + b, e1, 16);
    }
    s0 = f32x4.add(s0, e0);
    s1 = f32x4.add(s1, e1);
  }
  let s = hsum(f32x4.add(s0, s1));
  for (; c < n; c++) {
    const b = <usize>c << 2;
    const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(row + b) - m)), 0);
    if (dst != 0) store<f32>(dst + b, e);
    s += e;
  }
  return s;
}

export function softmaxForward(part: i32, parts: i32, x: usize, out: usize, rows: i32, dim: i32): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>dim << 2;
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * bytes;
    const o = out + <usize>r * bytes;
    const s = expSum(row, o, dim, rowMax(row, dim));
    const inv = f32x4.splat(<f32>(1.0 / <f64>s));
    let c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      v128.store(o + b, f32x4.mul(v128.load(o + b), inv));
    }
    const invS = f32x4.extract_lane(inv, 0);
    for (; c < dim; c++) store<f32>(o + (<usize>c << 2), load<f32>(o + (<usize>c << 2)) * invS);
  }
}

export function softmaxBackward(part: i32, parts: i32, y: usize, g: usize, gx: usize, rows: i32, dim: i32): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>dim << 2;
  for (let r = r0; r < r1; r++) {
    const yr = y + <usize>r * bytes;
    const gr = g + <usize>r * bytes;
    const xr = gx + <usize>r * bytes;
    let a = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= dim; c += 4) a = madd(v128.load(gr + (<usize>c << 2)), v128.load(yr + (<usize>c << 2)), a);
    let dot = hsum(a);
    for (; c < dim; c++) dot += load<f32>(gr + (<usize>c << 2)) * load<f32>(yr + (<usize>c << 2));
    const vd = f32x4.splat(dot);
    c = 0;
    for (; c + 4 <= dim; c += 4) {
      const b = <usize>c << 2;
      v128.store(xr + b, madd(v128.load(yr + b), f32x4.sub(v128.load(gr + b), vd), v128.load(xr + b)));
    }
    for (; c < dim; c++) {
      const b = <usize>c << 2;
      store<f32>(xr + b, load<f32>(xr + b) + load<f32>(yr + b) * (load<f32>(gr + b) - dot));
    }
  }
}

// ---- cross-entropy ----

export function crossEntropyForward(
  part: i32, parts: i32, logits: usize, targets: usize, losses: usize, lse: usize, rows: i32, vocab: i32, ignore: i32,
): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>vocab << 2;
  for (let r = r0; r < r1; r++) {
    const row = logits + <usize>r * bytes;
    const m = rowMax(row, vocab);
    const l = <f32>(<f64>m + Math.log(<f64>expSum(row, 0, vocab, m)));
    const t = load<i32>(targets + (<usize>r << 2));
    store<f32>(lse + (<usize>r << 2), l);
    store<f32>(losses + (<usize>r << 2), t == ignore ? 0 : l - load<f32>(row + (<usize>t << 2)));
  }
}

export function crossEntropyBackward(
  part: i32, parts: i32, logits: usize, targets: usize, lse: usize, grad: usize, rows: i32, vocab: i32, ignore: i32, scale: f32,
): void {
  const r0 = splitAt(rows, part, parts, 1);
  const r1 = splitAt(rows, part + 1, parts, 1);
  const bytes = <usize>vocab << 2;
  const vs = f32x4.splat(scale);
  for (let r = r0; r < r1; r++) {
    const t = load<i32>(targets + (<usize>r << 2));
    if (t == ignore) continue;
    const row = logits + <usize>r * bytes;
    const gr = grad + <usize>r * bytes;
    const l = load<f32>(lse + (<usize>r << 2));
    const vl = f32x4.splat(l);
    let c = 0;
    for (; c + 4 <= vocab; c += 4) {
      const b = <usize>c << 2;
      const p = vexp(f32x4.sub(v128.load(row + b), vl));
      v128.store(gr + b, madd(vs, p, v128.load(gr + b)));
    }
    for (; c < vocab; c++) {
      const b = <usize>c << 2;
      const p = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(row + b) - l)), 0);
      store<f32>(gr + b, load<f32>(gr + b) + scale * p);
    }
    const tb = gr + (<usize>t << 2);
    store<f32>(tb, load<f32>(tb) - scale);
  }
}
