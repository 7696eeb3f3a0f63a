// Elementwise and strided kernels. Contiguous ranges are split into parts in 16-element
// aligned chunks; strided kernels split the flattened index space of their (coalesced) shape.

import { splitAt, madd, vexp, vtanh, partial, k, K_ONE, K_GELU_C, K_GELU_A, K_GELU_3A, K_GELU_2C, K_MINUS_TWO, K_EIGHTY } from './common';
import { BinaryOp, UnaryOp } from './enums';

export function fill(part: i32, parts: i32, out: usize, n: i32, value: f32): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  const v = f32x4.splat(value);
  let i = s;
  for (; i + 4 <= e; i += 4) v128.store(out + (<usize>i << 2), v);
  for (; i < e; i++) store<f32>(out + (<usize>i << 2), value);
}

export function affine(part: i32, parts: i32, x: usize, out: usize, n: i32, alpha: f32, beta: f32): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, madd(v128.load(x + o), va, vb));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * alpha + beta);
  }
}

export function axpy(part: i32, parts: i32, x: usize, y: usize, n: i32, alpha: f32): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  const va = f32x4.splat(alpha);
  let i = s;
  for (; i + 8 <= e; i += 8) {
    const o = <usize>i << 2;
    v128.store(y + o, madd(v128.load(x + o), va, v128.load(y + o)));
    v128.store(y + o, madd(v128.load(x + o, 16), va, v128.load(y + o, 16)), 16);
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}

// gelu(x) = 0.5 x (1 + tanh u) = x·σ(2u) with u = c (x + a x³): one exp and one division,
// σ(2u) = 1 / (1 + e), e = exp(−2u). The exponent is capped at 80 so e stays finite and the
// derivative's e·σ² term never meets Inf·0 (gelu is ~1e-35·x there anyway).
@inline function geluExp(x: v128, x2: v128): v128 {
  const u = f32x4.mul(k(K_GELU_C), madd(f32x4.mul(x2, x), k(K_GELU_A), x));
  return vexp(f32x4.pmin(f32x4.mul(u, k(K_MINUS_TWO)), k(K_EIGHTY)));
}

@inline function geluV(x: v128): v128 {
  const e = geluExp(x, f32x4.mul(x, x));
  return f32x4.div(x, f32x4.add(k(K_ONE), e));
}

// d/dx gelu = σ + x σ (1 − σ) · 2u' with σ = σ(2u), u' = c (1 + 3a x²), and 1 − σ = e·σ
// (no cancellation as σ → 1).
@inline function geluGradV(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  const e = geluExp(x, x2);
  const sg = f32x4.div(k(K_ONE), f32x4.add(k(K_ONE), e));
  const du2 = f32x4.mul(k(K_GELU_2C), madd(x2, k(K_GELU_3A), k(K_ONE)));
  return madd(f32x4.mul(f32x4.mul(x, du2), e), f32x4.mul(sg, sg), sg);
}

@inline function reluV(x: v128): v128 {
  return v128.and(x, f32x4.gt(x, f32x4.splat(0)));
}

@inline function reluGradV(x: v128): v128 {
  return v128.and(k(K_ONE), f32x4.gt(x, f32x4.splat(0)));
}

// silu = x σ(x) with σ = 1 / (1 + e^−x); silu' = σ + x σ (1 − σ) = σ + x e^−x σ² (no cancellation).
@inline function siluV(x: v128): v128 {
  return f32x4.div(x, f32x4.add(k(K_ONE), vexp(f32x4.neg(x))));
}

@inline function siluGradV(x: v128): v128 {
  const e = vexp(f32x4.neg(x));
  const sg = f32x4.div(k(K_ONE), f32x4.add(k(K_ONE), e));
  return madd(f32x4.mul(x, e), f32x4.mul(sg, sg), sg);
}

@inline function tanhGradV(x: v128): v128 {
  const t = vtanh(x);
  return f32x4.sub(k(K_ONE), f32x4.mul(t, t));
}

// One loop per op, each calling its function directly: loops that differ only in an op
// constant get folded into one loop with the op switch inside by the optimizer.

/** out[i] = f(x[i]) for i in [s, e); the tail goes through one padded vector. */
@inline function tailUnary(x: usize, out: usize, i: i32, e: i32, v: v128): void {
  for (let l = 0; i < e; i++, l++) {
    store<f32>(out + (<usize>i << 2), l == 0 ? f32x4.extract_lane(v, 0) : l == 1 ? f32x4.extract_lane(v, 1) : f32x4.extract_lane(v, 2));
  }
}

/** The (up to 3) tail elements from i, zero-padded into one vector. */
@inline function tailLoad(x: usize, i: i32, e: i32): v128 {
  let v = f32x4.splat(0);
  if (i < e) v = f32x4.replace_lane(v, 0, load<f32>(x + (<usize>i << 2)));
  if (i + 1 < e) v = f32x4.replace_lane(v, 1, load<f32>(x + (<usize>(i + 1) << 2)));
  if (i + 2 < e) v = f32x4.replace_lane(v, 2, load<f32>(x + (<usize>(i + 2) << 2)));
  return v;
}

export function unary(part: i32, parts: i32, op: i32, x: usize, out: usize, n: i32): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  const e4 = s + ((e - s) & ~3);
  let i = s;
  if (op == UnaryOp.Gelu) {
    // two independent vectors per step: the exp chains are long enough to leave the core idle
    const e8 = s + ((e - s) & ~7);
    for (; i < e8; i += 8) {
      const o = <usize>i << 2;
      const y0 = geluV(v128.load(x + o));
      const y1 = geluV(v128.load(x + o, 16));
      v128.store(out + o, y0);
      v128.store(out + o, y1, 16);
    }
    for (; i < e4; i += 4) v128.store(out + (<usize>i << 2), geluV(v128.load(x + (<usize>i << 2))));
    if (i < e) tailUnary(x, out, i, e, geluV(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Relu) {
    for (; i < e4; i += 4) v128.store(out + (<usize>i << 2), reluV(v128.load(x + (<usize>i << 2))));
    if (i < e) tailUnary(x, out, i, e, reluV(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Tanh) {
    for (; i < e4; i += 4) v128.store(out + (<usize>i << 2), vtanh(v128.load(x + (<usize>i << 2))));
    if (i < e) tailUnary(x, out, i, e, vtanh(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Exp) {
    for (; i < e4; i += 4) v128.store(out + (<usize>i << 2), vexp(v128.load(x + (<usize>i << 2))));
    if (i < e) tailUnary(x, out, i, e, vexp(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Neg) {
    for (; i < e4; i += 4) v128.store(out + (<usize>i << 2), f32x4.neg(v128.load(x + (<usize>i << 2))));
    for (; i < e; i++) store<f32>(out + (<usize>i << 2), -load<f32>(x + (<usize>i << 2)));
  } else if (op == UnaryOp.Silu) {
    for (; i < e4; i += 4) v128.store(out + (<usize>i << 2), siluV(v128.load(x + (<usize>i << 2))));
    if (i < e) tailUnary(x, out, i, e, siluV(tailLoad(x, i, e)));
  } else {
    unreachable(); // an op id this module lacks: trap rather than compute another op
  }
}

/** gx[i] += d[i] · g[i] for the tail elements, d computed on one padded vector. */
@inline function tailGrad(g: usize, gx: usize, i: i32, e: i32, d: v128): void {
  for (let l = 0; i < e; i++, l++) {
    const o = <usize>i << 2;
    const di = l == 0 ? f32x4.extract_lane(d, 0) : l == 1 ? f32x4.extract_lane(d, 1) : f32x4.extract_lane(d, 2);
    store<f32>(gx + o, load<f32>(gx + o) + di * load<f32>(g + o));
  }
}

export function unaryBackward(part: i32, parts: i32, op: i32, x: usize, g: usize, gx: usize, n: i32): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  const e4 = s + ((e - s) & ~3);
  let i = s;
  if (op == UnaryOp.Gelu) {
    const e8 = s + ((e - s) & ~7);
    for (; i < e8; i += 8) {
      const o = <usize>i << 2;
      const d0 = geluGradV(v128.load(x + o));
      const d1 = geluGradV(v128.load(x + o, 16));
      v128.store(gx + o, madd(d0, v128.load(g + o), v128.load(gx + o)));
      v128.store(gx + o, madd(d1, v128.load(g + o, 16), v128.load(gx + o, 16)), 16);
    }
    for (; i < e4; i += 4) {
      const o = <usize>i << 2;
      v128.store(gx + o, madd(geluGradV(v128.load(x + o)), v128.load(g + o), v128.load(gx + o)));
    }
    if (i < e) tailGrad(g, gx, i, e, geluGradV(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Relu) {
    for (; i < e4; i += 4) {
      const o = <usize>i << 2;
      v128.store(gx + o, madd(reluGradV(v128.load(x + o)), v128.load(g + o), v128.load(gx + o)));
    }
    if (i < e) tailGrad(g, gx, i, e, reluGradV(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Tanh) {
    for (; i < e4; i += 4) {
      const o = <usize>i << 2;
      v128.store(gx + o, madd(tanhGradV(v128.load(x + o)), v128.load(g + o), v128.load(gx + o)));
    }
    if (i < e) tailGrad(g, gx, i, e, tanhGradV(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Exp) {
    for (; i < e4; i += 4) {
      const o = <usize>i << 2;
      v128.store(gx + o, madd(vexp(v128.load(x + o)), v128.load(g + o), v128.load(gx + o)));
    }
    if (i < e) tailGrad(g, gx, i, e, vexp(tailLoad(x, i, e)));
  } else if (op == UnaryOp.Neg) {
    for (; i < e; i++) {
      const o = <usize>i << 2;
      store<f32>(gx + o, load<f32>(gx + o) - load<f32>(g + o));
    }
  } else if (op == UnaryOp.Silu) {
    for (; i < e4; i += 4) {
      const o = <usize>i << 2;
      v128.store(gx + o, madd(siluGradV(v128.load(x + o)), v128.load(g + o), v128.load(gx + o)));
    }
    if (i < e) tailGrad(g, gx, i, e, siluGradV(tailLoad(x, i, e)));
  } else {
    unreachable();
  }
}

// ---- SwiGLU ----

export function swigluForward(part: i32, parts: i32, gate: usize, up: usize, out: usize, n: i32): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(siluV(v128.load(gate + o)), v128.load(up + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, f32x4.extract_lane(siluV(f32x4.splat(load<f32>(gate + o))), 0) * load<f32>(up + o));
  }
}

export function swigluBackward(part: i32, parts: i32, gate: usize, up: usize, g: usize, gg: usize, gu: usize, n: i32): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const x = v128.load(gate + o);
    const go = v128.load(g + o);
    if (gg != 0) v128.store(gg + o, madd(f32x4.mul(siluGradV(x), v128.load(up + o)), go, v128.load(gg + o)));
    if (gu != 0) v128.store(gu + o, madd(siluV(x), go, v128.load(gu + o)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const x = f32x4.splat(load<f32>(gate + o));
    const go = load<f32>(g + o);
    if (gg != 0) store<f32>(gg + o, load<f32>(gg + o) + f32x4.extract_lane(siluGradV(x), 0) * load<f32>(up + o) * go);
    if (gu != 0) store<f32>(gu + o, load<f32>(gu + o) + f32x4.extract_lane(siluV(x), 0) * go);
  }
}

// ---- strided kernels ----
// shape/strides arrive as i32 arrays in memory (written by the JS wrapper after coalescing
// dimensions, so the innermost dimension is as long as possible).

// The binary op is a type parameter so each instantiation of binRun holds only its own
// instruction: with a runtime (or inlined-constant) op, the optimizer folds the four loops into
// one that tests the op on every vector. The type's byte size names the op (AS folds sizeof<T>()
// at compile time): i8 add, i16 sub, i32 mul, i64 div.
type Add = i8;
type Sub = i16;
type Mul = i32;
type Div = i64;

@inline function binV<Op>(a: v128, b: v128): v128 {
  if (sizeof<Op>() == 1) return f32x4.add(a, b);
  if (sizeof<Op>() == 2) return f32x4.sub(a, b);
  if (sizeof<Op>() == 4) return f32x4.mul(a, b);
  return f32x4.div(a, b);
}

@inline function binS<Op>(a: f32, b: f32): f32 {
  if (sizeof<Op>() == 1) return a + b;
  if (sizeof<Op>() == 2) return a - b;
  if (sizeof<Op>() == 4) return a * b;
  return a / b;
}

@inline function binRun<Op>(a: usize, sa: i32, b: usize, sb: i32, out: usize, len: i32): void {
  let i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 4 <= len; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binV<Op>(v128.load(a + o), v128.load(b + o)));
    }
  } else if (sa == 1 && sb == 0) {
    const vb = v128.load32_splat(b);
    for (; i + 4 <= len; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binV<Op>(v128.load(a + o), vb));
    }
  } else if (sa == 0 && sb == 1) {
    const va = v128.load32_splat(a);
    for (; i + 4 <= len; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, binV<Op>(va, v128.load(b + o)));
    }
  }
  for (; i < len; i++) {
    const r = binS<Op>(load<f32>(a + ((<usize>(i * sa)) << 2)), load<f32>(b + ((<usize>(i * sb)) << 2)));
    store<f32>(out + (<usize>i << 2), r);
  }
}

@inline function binDispatch(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, len: i32): void {
  if (op == BinaryOp.Add) binRun<Add>(a, sa, b, sb, out, len);
  else if (op == BinaryOp.Sub) binRun<Sub>(a, sa, b, sb, out, len);
  else if (op == BinaryOp.Mul) binRun<Mul>(a, sa, b, sb, out, len);
  else if (op == BinaryOp.Div) binRun<Div>(a, sa, b, sb, out, len);
  else unreachable();
}

function total(shape: usize, nd: i32): i32 {
  let t = 1;
  for (let d = 0; d < nd; d++) t *= load<i32>(shape + (<usize>d << 2));
  return t;
}

/** out (contiguous) = a op b over `shape`; sa/sb/shape are i32 arrays of length nd >= 1. */
export function binary(
  part: i32, parts: i32, op: i32, a: usize, sa: usize, b: usize, sb: usize, out: usize, shape: usize, nd: i32,
): void {
  const n = total(shape, nd);
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  const last = <usize>(nd - 1) << 2;
  const L = load<i32>(shape + last);
  const ia = load<i32>(sa + last);
  const ib = load<i32>(sb + last);
  let idx = s;
  while (idx < e) {
    let rem = idx / L;
    const inner = idx - rem * L;
    let offA = inner * ia;
    let offB = inner * ib;
    for (let d = nd - 2; d >= 0; d--) {
      const dd = <usize>d << 2;
      const size = load<i32>(shape + dd);
      const q = rem / size;
      const c = rem - q * size;
      rem = q;
      offA += c * load<i32>(sa + dd);
      offB += c * load<i32>(sb + dd);
    }
    const len = min(L - inner, e - idx);
    binDispatch(op, a + (<usize>offA << 2), ia, b + (<usize>offB << 2), ib, out + (<usize>idx << 2), len);
    idx += len;
  }
}

@inline function copyRun(src: usize, ss: i32, dst: usize, ds: i32, len: i32, acc: bool): void {
  if (!acc) {
    if (ss == 1 && ds == 1) {
      memory.copy(dst, src, <usize>len << 2);
      return;
    }
    for (let i = 0; i < len; i++) {
      store<f32>(dst + (<usize>(i * ds) << 2), load<f32>(src + (<usize>(i * ss) << 2)));
    }
    return;
  }
  let i = 0;
  if (ss == 1 && ds == 1) {
    for (; i + 4 <= len; i += 4) {
      const o = <usize>i << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
  } else if (ss == 1 && ds == 0) {
    // summing a broadcast dimension: reduce the run first, then one read-modify-write
    let v = f32x4.splat(0);
    for (; i + 4 <= len; i += 4) v = f32x4.add(v, v128.load(src + (<usize>i << 2)));
    let t: f32 = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
    for (; i < len; i++) t += load<f32>(src + (<usize>i << 2));
    store<f32>(dst, load<f32>(dst) + t);
    return;
  }
  for (; i < len; i++) {
    const d = dst + (<usize>(i * ds) << 2);
    store<f32>(d, load<f32>(d) + load<f32>(src + (<usize>(i * ss) << 2)));
  }
}

/** Copies flattened indices [s, e) of the nd-dimensional index space (see copyStrided). */
@inline function copyRange(src: usize, ss: usize, dst: usize, ds: usize, shape: usize, nd: i32, s: i32, e: i32, acc: bool): void {
  const last = <usize>(nd - 1) << 2;
  const L = load<i32>(shape + last);
  const is = load<i32>(ss + last);
  const id = load<i32>(ds + last);
  let idx = s;
  while (idx < e) {
    let rem = idx / L;
    const inner = idx - rem * L;
    let offS = inner * is;
    let offD = inner * id;
    for (let d = nd - 2; d >= 0; d--) {
      const dd = <usize>d << 2;
      const size = load<i32>(shape + dd);
      const q = rem / size;
      const c = rem - q * size;
      rem = q;
      offS += c * load<i32>(ss + dd);
      offD += c * load<i32>(ds + dd);
    }
    const len = min(L - inner, e - idx);
    copyRun(src + (<usize>offS << 2), is, dst + (<usize>offD << 2), id, len, acc);
    idx += len;
  }
}

/**
 * dst[idx·dstStrides] (+)= src[idx·srcStrides]. Parts split the index space, which the JS
 * wrapper only allows when no two indices share a dst element. With splitInner != 0 (the
 * outermost dimension is summed into one dst, as a bias gradient is), every part walks that
 * dimension in order and the parts split the remaining dimensions instead.
 */
export function copyStrided(
  part: i32, parts: i32, src: usize, ss: usize, dst: usize, ds: usize, shape: usize, nd: i32, acc: i32, splitInner: i32,
): void {
  if (splitInner != 0 && nd > 1) {
    const n = total(shape + 4, nd - 1);
    const s = splitAt(n, part, parts, 16);
    const e = splitAt(n, part + 1, parts, 16);
    const outer = load<i32>(shape);
    const so = <usize>load<i32>(ss) << 2;
    const dOuter = <usize>load<i32>(ds) << 2;
    for (let o = 0; o < outer; o++) {
      copyRange(src + <usize>o * so, ss + 4, dst + <usize>o * dOuter, ds + 4, shape + 4, nd - 1, s, e, acc != 0);
    }
    return;
  }
  const n = total(shape, nd);
  copyRange(src, ss, dst, ds, shape, nd, splitAt(n, part, parts, 16), splitAt(n, part + 1, parts, 16), acc != 0);
}

// ---- dropout: mask bit-identical to dropoutUniform in src/backend/rng.ts ----

@inline function mix32v(x: v128): v128 {
  x = i32x4.mul(v128.xor(x, i32x4.shr_u(x, 16)), i32x4.splat(0x85ebca6b));
  x = i32x4.mul(v128.xor(x, i32x4.shr_u(x, 13)), i32x4.splat(0xc2b2ae35));
  return v128.xor(x, i32x4.shr_u(x, 16));
}

@inline function mix32(x: u32): u32 {
  x = (x ^ (x >>> 16)) * 0x85ebca6b;
  x = (x ^ (x >>> 13)) * 0xc2b2ae35;
  return x ^ (x >>> 16);
}

/**
 * keep(i) = (h >>> 8) >= threshold, threshold = ceil(p · 2^24) computed exactly by the caller,
 * which equals dropoutUniform(seed, offset + i) >= p. Kept values are divided by (1 − p) in
 * float64 (as the reference does) before rounding to float32.
 */
@inline function dropoutRun(x: usize, y: usize, s: i32, e: i32, thr: i32, keep: f64, seed: u32, offset: u32, acc: bool): void {
  const ms = mix32(seed);
  const vms = i32x4.splat(ms);
  const golden = i32x4.splat(0x9e3779b9);
  const vthr = i32x4.splat(thr);
  const vkeep = f64x2.splat(keep);
  const lane = i32x4(0, 1, 2, 3);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const idx = i32x4.add(i32x4.splat(<i32>(offset + <u32>i)), lane);
    const h = mix32v(i32x4.add(v128.xor(vms, idx), golden));
    const mask = i32x4.ge_s(i32x4.shr_u(h, 8), vthr);
    const v = v128.load(x + o);
    const lo = f64x2.div(f64x2.promote_low_f32x4(v), vkeep);
    const hi = f64x2.div(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), vkeep);
    const r = v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
    const kept = v128.and(r, mask);
    v128.store(y + o, acc ? f32x4.add(v128.load(y + o), kept) : kept);
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const h = mix32((ms ^ (offset + <u32>i)) + 0x9e3779b9);
    const kept: f32 = <i32>(h >>> 8) >= thr ? <f32>(<f64>load<f32>(x + o) / keep) : 0;
    store<f32>(y + o, acc ? load<f32>(y + o) + kept : kept);
  }
}

// keep(i) ⇔ (h >>> 8)·2⁻²⁴ >= p ⇔ (h >>> 8) >= ceil(p·2²⁴): an exact integer test, so the mask
// matches the float64 comparison of dropoutUniform bit for bit (p in [0, 1], checked by the caller).
@inline function dropoutThreshold(p: f64): i32 {
  return <i32>Math.ceil(p * 16777216.0);
}

export function dropoutForward(part: i32, parts: i32, x: usize, out: usize, n: i32, p: f64, seed: u32, offset: u32): void {
  dropoutRun(x, out, splitAt(n, part, parts, 16), splitAt(n, part + 1, parts, 16), dropoutThreshold(p), 1 - p, seed, offset, false);
}

export function dropoutBackward(part: i32, parts: i32, g: usize, gx: usize, n: i32, p: f64, seed: u32, offset: u32): void {
  dropoutRun(g, gx, splitAt(n, part, parts, 16), splitAt(n, part + 1, parts, 16), dropoutThreshold(p), 1 - p, seed, offset, true);
}

// ---- optimizer and norms ----

export function adamw(
  part: i32, parts: i32, p: usize, g: usize, m: usize, v: usize, n: i32,
  lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32,
): void {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2);
  const vc1 = f32x4.splat(1 - b1), vc2 = f32x4.splat(1 - b2);
  const ibc1 = f32x4.splat(1 / bc1), ibc2 = f32x4.splat(1 / bc2);
  const veps = f32x4.splat(eps), vlr = f32x4.splat(lr), vwd = f32x4.splat(wd);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const mi = madd(vb1, v128.load(m + o), f32x4.mul(vc1, gi));
    const vi = madd(vb2, v128.load(v + o), f32x4.mul(vc2, f32x4.mul(gi, gi)));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const pi = v128.load(p + o);
    const upd = madd(vwd, pi, f32x4.div(f32x4.mul(mi, ibc1), f32x4.add(f32x4.sqrt(f32x4.mul(vi, ibc2)), veps)));
    v128.store(p + o, f32x4.sub(pi, f32x4.mul(vlr, upd)));
  }
  for (; i < e; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const mi = b1 * load<f32>(m + o) + (1 - b1) * gi;
    const vi = b2 * load<f32>(v + o) + (1 - b2) * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const pi = load<f32>(p + o);
    store<f32>(p + o, pi - lr * ((mi / bc1) / (Mathf.sqrt(vi / bc2) + eps) + wd * pi));
  }
}

/** Σ x² in float64 over this part's range; written to partial(part) and returned. */
export function sumSquares(part: i32, parts: i32, x: usize, n: i32): f64 {
  const s = splitAt(n, part, parts, 16);
  const e = splitAt(n, part + 1, parts, 16);
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
    a0 = f64x2.add(a0, f64x2.mul(lo, lo));
    a1 = f64x2.add(a1, f64x2.mul(hi, hi));
  }
  const t = f64x2.add(a0, a1);
  let r = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  for (; i < e; i++) {
    const xi = <f64>load<f32>(x + (<usize>i << 2));
    r += xi * xi;
  }
  store<f64>(partial(part), r);
  return r;
}

/** Sum of the per-part results left by sumSquares. */
export function sumPartials(parts: i32): f64 {
  let r: f64 = 0;
  for (let t = 0; t < parts; t++) r += load<f64>(partial(t));
  return r;
}
