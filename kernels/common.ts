// Shared helpers for the genlab kernels (AssemblyScript, compiled to wasm SIMD128).
//
// Every pointer crossing the JS boundary is a BYTE address into the shared memory. Threaded
// kernels take (part, parts) first: a call is cut into `parts` pieces by the kernel itself, and
// the pool's threads claim pieces until none are left, so every thread runs the same export with
// one broadcast argument list, and a thread the OS is slow to schedule delays nobody.

// Set by init() in every instance (globals are per instance, the memory is shared):
// - this thread's own scratch (packing buffers, score blocks), chosen by its pool slot;
// - the partials region, one slice per part, for sums the JS side reduces after the call.
let scratchBase: usize = 0;
let scratchBytes: usize = 0;
let slot: usize = 0;
let partialsBase: usize = 0;
let partialBytes: usize = 0;

export function init(base: usize, bytesPerThread: usize, threadSlot: i32, partials: usize, bytesPerPart: usize): void {
  scratchBase = base;
  scratchBytes = bytesPerThread;
  slot = <usize>threadSlot;
  partialsBase = partials;
  partialBytes = bytesPerPart;
}

/** End of the module's static data; the loader puts its scratch regions above it. */
export function heapBase(): usize {
  return __heap_base;
}

/** This thread's scratch. */
@inline export function scratch(): usize {
  return scratchBase + slot * scratchBytes;
}

@inline export function scratchSize(): usize {
  return scratchBytes;
}

/** The partial-result slice of part `part`. */
@inline export function partial(part: i32): usize {
  return partialsBase + <usize>part * partialBytes;
}

@inline export function partialSize(): usize {
  return partialBytes;
}

/** Start of piece `part` of [0, n) cut in `parts`, rounded down to a multiple of `align`. */
@inline export function splitAt(n: i32, part: i32, parts: i32, align: i32): i32 {
  if (part >= parts) return n;
  const s = <i32>((<i64>n * <i64>part) / <i64>parts);
  return s - (s % align);
}

// a·b + c: fused on the relaxed build (one rounding, as the hardware FMA does), mul+add otherwise.
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  const t = f32x4.add(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2));
  return f32x4.extract_lane(t, 0);
}

@inline export function hmax(v: v128): f32 {
  const s = f32x4.max(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  const t = f32x4.max(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2));
  return f32x4.extract_lane(t, 0);
}

/** [hsum(a), hsum(b), hsum(c), hsum(d)] with shuffles instead of four reductions. */
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 1, 4, 5), v128.shuffle<f32>(a, b, 2, 3, 6, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 1, 4, 5), v128.shuffle<f32>(c, d, 2, 3, 6, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 2, 4, 6), v128.shuffle<f32>(ab, cd, 1, 3, 5, 7));
}

/**
 * exp(x) per lane, ≈1 ulp (Cody–Waite reduction + Cephes' degree-6 polynomial), 0 below
 * -87.33 and +Inf above 88.72. Results that would be subnormal are flushed to 0 instead: the
 * x86 microcode assist for a subnormal product costs ~100 cycles, and masked scores and far
 * tails of softmax rows hit it constantly. The clamps use pmin/pmax (one instruction each) in
 * the order that lets NaN through; n = round(x·log2 e) comes from the 1.5·2^23 trick (adding
 * it leaves n in the low mantissa bits), avoiding a float→int conversion; 2^n is applied as
 * two factors so n = 128 (x up to 88.72) still works.
 */
@inline export function vexp(x: v128): v128 {
  const lo = f32x4.splat(-87.33);
  const tiny = f32x4.lt(x, lo);
  x = f32x4.pmin(f32x4.pmax(x, lo), f32x4.splat(88.73));
  const magic = f32x4.splat(12582912.0);
  const t = madd(x, f32x4.splat(1.44269504088896341), magic);
  const n = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  p = madd(p, r2, f32x4.add(r, f32x4.splat(1.0)));
  const ni = i32x4.sub(t, i32x4.splat(0x4b400000));
  const h = i32x4.shr_s(ni, 1);
  const e1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const e2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(f32x4.mul(p, e1), e2), tiny);
}

@inline export function sexp(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

/**
 * tanh(x) per lane: an odd polynomial below |x| = 0.625 (keeps relative accuracy near 0, where
 * 1 − 2/(e^2x + 1) would cancel), 1 − 2/(e^2|x| + 1) with the sign restored above.
 */
@inline export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = madd(p, z, f32x4.splat(2.06390887954e-2));
  p = madd(p, z, f32x4.splat(-5.37397155531e-2));
  p = madd(p, z, f32x4.splat(1.33314422036e-1));
  p = madd(p, z, f32x4.splat(-3.33332819422e-1));
  const small = madd(f32x4.mul(p, z), x, x);
  const e = vexp(f32x4.add(ax, ax));
  let big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  big = v128.or(big, v128.and(x, f32x4.splat(-0.0)));
  return v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.625)));
}

@inline export function stanh(x: f32): f32 {
  return f32x4.extract_lane(vtanh(f32x4.splat(x)), 0);
}

export const GELU_C: f32 = 0.7978845608028654; // sqrt(2/pi)
export const GELU_A: f32 = 0.044715;
