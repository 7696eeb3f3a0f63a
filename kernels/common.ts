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

// Constants of the vector math below, loaded with load32_splat (one instruction) from static
// data: a v128 constant is rebuilt from immediates at every use (four instructions), and V8 does
// not hoist them out of loops.
const C = memory.data<f32>([
  -87.33, 88.73, 12582912.0, 1.44269504088896341, // 0..3: exp clamps, 1.5·2^23, log2 e
  0.693359375, -2.12194440e-4, // 4..5: ln 2 split in two (Cody–Waite)
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1, // 6..11
  1.0, 2.0, 0.625, 0.5, // 12..15
  -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1, // 16..20: tanh
  0.7978845608028654, 0.044715, 0.134145, 1.5957691216057308, // 21..24: gelu c = sqrt(2/pi), a, 3a, 2c
  -2.0, 80.0, // 25..26
]);

@inline export function k(i: i32): v128 {
  return v128.load32_splat(C + (<usize>i << 2));
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
  const lo = k(0);
  const tiny = f32x4.lt(x, lo);
  x = f32x4.pmin(f32x4.pmax(x, lo), k(1));
  const magic = k(2);
  const t = madd(x, k(3), magic);
  const n = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(n, k(4)));
  r = f32x4.sub(r, f32x4.mul(n, k(5)));
  let p = k(6);
  p = madd(p, r, k(7));
  p = madd(p, r, k(8));
  p = madd(p, r, k(9));
  p = madd(p, r, k(10));
  p = madd(p, r, k(11));
  const r2 = f32x4.mul(r, r);
  p = madd(p, r2, f32x4.add(r, k(12)));
  const ni = i32x4.sub(t, i32x4.splat(0x4b400000));
  const h = i32x4.shr_s(ni, 1);
  const bias = i32x4.splat(127);
  const e1 = i32x4.shl(i32x4.add(h, bias), 23);
  const e2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), bias), 23);
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
  let p = k(16);
  p = madd(p, z, k(17));
  p = madd(p, z, k(18));
  p = madd(p, z, k(19));
  p = madd(p, z, k(20));
  const small = madd(f32x4.mul(p, z), x, x);
  const e = vexp(f32x4.add(ax, ax));
  const one = k(12);
  let big = f32x4.sub(one, f32x4.div(k(13), f32x4.add(e, one)));
  // copy the sign of x onto tanh(|x|)
  big = v128.or(big, v128.andnot(x, i32x4.shr_u(i32x4.splat(-1), 1)));
  return v128.bitselect(small, big, f32x4.lt(ax, k(14)));
}

@inline export function stanh(x: f32): f32 {
  return f32x4.extract_lane(vtanh(f32x4.splat(x)), 0);
}

// indices of the gelu constants in the table
export const K_ONE = 12;
export const K_GELU_C = 21;
export const K_GELU_A = 22;
export const K_GELU_3A = 23;
export const K_GELU_2C = 24;
export const K_MINUS_TWO = 25;
export const K_EIGHTY = 26;
