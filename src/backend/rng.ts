// Counter-based random numbers: a value is a pure function of (seed, index), so any thread can
// produce any slice of a stream, backward regenerates dropout masks instead of storing them, and
// every backend draws bit-identical numbers. The wasm kernels port these exact integer steps.

/** A 32-bit avalanche mix (the finaliser of MurmurHash3). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Uniform in [0, 1) with 24 bits of precision, exactly representable in float32. */
export function dropoutUniform(seed: number, index: number): number {
  const h = mix32((mix32(seed >>> 0) ^ (index >>> 0)) + 0x9e3779b9);
  return (h >>> 8) / 16777216;
}

/** A small seeded generator (for weight init and sampling): SplitMix32-style, reproducible. */
export class Rng {
  private state: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.state = mix32(seed >>> 0) || 1;
  }

  /** Next uint32. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** Uniform in [0, 1) with 32 bits of precision. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== null) {
      const s = this.spareNormal;
      this.spareNormal = null;
      return s;
    }
    let u = this.uniform();
    while (u <= 1e-12) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}
