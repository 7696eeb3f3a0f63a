// Conversions between float32 and the 16- and 8-bit float formats found in safetensors and GGUF
// files, and the half-precision scales of q8_0 blocks (backend/q8-0.ts). Rounding is
// round-to-nearest-even, the rule PyTorch uses for .half() and .bfloat16(), so a tensor written
// here is bit-identical to the same tensor converted by PyTorch.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 value → IEEE half bits (round to nearest even; overflow → ±inf; NaN stays NaN). */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  const b = scratchU32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or zero): value = M * 2^(e-14) in units of the smallest subnormal.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

function f16BitsToF32Slow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let f16Table: Float32Array | null = null;

/** All 65536 half values as float32, built once on first use (256 KB). */
export function f16Table32(): Float32Array {
  if (f16Table === null) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Slow(h);
  }
  return f16Table;
}

export function f16BitsToF32(h: number): number {
  return f16Table32()[h & 0xffff]!;
}

/** float32 value → bfloat16 bits (round to nearest even; NaN stays a quiet NaN). */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  const b = scratchU32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return (b >>> 16) | 0x0040;
  return ((b + 0x7fff + ((b >>> 16) & 1)) / 65536) >>> 0;
}

export function bf16BitsToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0]!;
}

/** FP8 E4M3 ("fn" variant: no infinities, S.1111.111 is NaN) → float32. */
export function f8e4m3ToF32(byte: number): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exp = (byte >>> 3) & 0xf;
  const mant = byte & 0x7;
  if (exp === 0xf && mant === 0x7) return NaN;
  if (exp === 0) return sign * (mant / 8) * 2 ** -6;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

/** FP8 E5M2 is the upper byte of an IEEE half. */
export function f8e5m2ToF32(byte: number): number {
  return f16BitsToF32((byte & 0xff) << 8);
}
