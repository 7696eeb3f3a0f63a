// Test plumbing for the kernel suite: device buffers with guard zones and poisoned contents,
// seeded inputs, and tolerance checks. Kept apart from the suite so the cases stay readable.

import assert from 'node:assert/strict';
import type { Device, Storage } from '../device.ts';
import type { Ptr } from '../kernels.ts';
import type { Rng } from '../rng.ts';

export type CaseBody = (h: Harness, rng: Rng, device: Device) => void;
/** Registers one test case with a fresh harness and a per-title seeded generator. */
export type CaseFn = (title: string, body: CaseBody) => void;

/** Elements after every buffer that no kernel may touch. */
const GUARD = 16;
/** A NaN bit pattern written through the int view; arithmetic never produces this payload. */
const GUARD_BITS = 0x7fa5a5a5;

interface Tracked {
  storage: Storage;
  ptr: Ptr;
  n: number;
  /** Inputs keep their bits; outputs may change. */
  snapshot: Int32Array | null;
  label: string;
}

/**
 * Buffers for one test. Inputs are checked to be unchanged and every buffer's trailing guard zone
 * intact after each kernel run; the storages are held (so the GC cannot recycle them mid-test) and
 * freed by dispose().
 */
export class Harness {
  private readonly tracked: Tracked[] = [];

  constructor(readonly device: Device) {}

  private alloc(n: number, label: string): Tracked {
    const storage = this.device.allocStorage(n + GUARD);
    this.device.refreshViews();
    const t: Tracked = { storage, ptr: storage.ptr, n, snapshot: null, label };
    this.device.i32.fill(GUARD_BITS, t.ptr + n, t.ptr + n + GUARD);
    this.tracked.push(t);
    return t;
  }

  /** A float32 input the kernel must not modify. */
  input(data: ArrayLike<number>, label = 'input'): Ptr {
    const t = this.alloc(data.length, label);
    this.device.f32.set(data, t.ptr);
    t.snapshot = this.device.i32.slice(t.ptr, t.ptr + t.n);
    return t.ptr;
  }

  /** An int32 input the kernel must not modify. */
  inputI32(data: ArrayLike<number>, label = 'ids'): Ptr {
    const t = this.alloc(data.length, label);
    this.device.i32.set(data, t.ptr);
    t.snapshot = this.device.i32.slice(t.ptr, t.ptr + t.n);
    return t.ptr;
  }

  /** An output filled with NaN, so any element the kernel fails to write shows. */
  output(n: number, label = 'output'): Ptr {
    const t = this.alloc(n, label);
    this.device.f32.fill(NaN, t.ptr, t.ptr + n);
    return t.ptr;
  }

  /** An int32 output filled with a value no kernel writes. */
  outputI32(n: number, label = 'output'): Ptr {
    const t = this.alloc(n, label);
    this.device.i32.fill(-0x5a5a5a5a, t.ptr, t.ptr + n);
    return t.ptr;
  }

  /** A buffer the kernel may update (accumulated gradients, optimizer state, in-place outputs). */
  buffer(data: ArrayLike<number>, label = 'buffer'): Ptr {
    const t = this.alloc(data.length, label);
    this.device.f32.set(data, t.ptr);
    return t.ptr;
  }

  read(ptr: Ptr, n: number): Float64Array {
    this.device.refreshViews();
    return Float64Array.from(this.device.f32.subarray(ptr, ptr + n));
  }

  readI32(ptr: Ptr, n: number): Int32Array {
    this.device.refreshViews();
    return this.device.i32.slice(ptr, ptr + n);
  }

  /** Runs one kernel call, then checks inputs and guard zones. */
  run<T>(fn: () => T): T {
    const result = fn();
    this.check();
    return result;
  }

  check(): void {
    this.device.refreshViews();
    const i32 = this.device.i32;
    for (const t of this.tracked) {
      for (let g = 0; g < GUARD; g++) {
        if (i32[t.ptr + t.n + g] !== GUARD_BITS) {
          assert.fail(`kernel wrote past the end of ${t.label} (length ${t.n}) at element ${t.n + g}`);
        }
      }
      if (t.snapshot) {
        for (let i = 0; i < t.n; i++) {
          if (i32[t.ptr + i] !== t.snapshot[i]) assert.fail(`kernel modified its input ${t.label} at element ${i}`);
        }
      }
    }
  }

  dispose(): void {
    for (const t of this.tracked) this.device.freeStorage(t.storage);
    this.tracked.length = 0;
  }
}

/** A stable seed per test title, so each test draws its own reproducible inputs. */
export function seedOf(title: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < title.length; i++) h = Math.imul(h ^ title.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Float32-representable normals (mean, scale). */
export function normals(rng: Rng, n: number, scale = 1, mean = 0): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(mean + scale * rng.normal());
  return out;
}

/** Integers in [lo, hi). */
export function ints(rng: Rng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(rng.uniform() * (hi - lo));
  return out;
}

export function fround(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.fround(v));
}

export function add(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]!);
}

/** Elementwise kernels: a few float32 roundings. */
export const ELEMENTWISE_TOL = 1e-5;

/** Lengths around the vector widths: below one vector, odd tails, and one long enough to split. */
export const SIZES = [1, 7, 63, 65, 1000];

/** Reductions over k terms: float32 accumulation error grows with the number of terms. */
export function reductionTol(k: number): number {
  return 1e-4 * Math.max(1, Math.sqrt(k / 64));
}

/**
 * |got − want| <= rtol · (|want| + rms(want)) elementwise: relative for large values, and relative
 * to the array's scale for values that cancel to near zero. Non-finite expectations must match
 * exactly (so NaN poison left in a region the oracle also leaves untouched passes).
 */
export function expectClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number): void {
  assert.equal(got.length, want.length, `${what}: got ${got.length} elements, expected ${want.length}`);
  let sq = 0;
  let count = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isFinite(want[i]!)) {
      sq += want[i]! ** 2;
      count++;
    }
  }
  const floor = Math.sqrt(sq / Math.max(count, 1));
  let bad = 0;
  let first = '';
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const ok = Number.isFinite(w) ? Math.abs(g - w) <= rtol * (Math.abs(w) + floor) : Object.is(g, w);
    if (!ok) {
      if (bad === 0) {
        const hint = Number.isNaN(g) ? ' (NaN: never written?)' : '';
        first = `element ${i} is ${g}${hint}, expected ${w} (rtol ${rtol}, scale ${floor.toPrecision(3)})`;
      }
      bad++;
    }
  }
  if (bad > 0) assert.fail(`${what}: ${bad} of ${want.length} elements differ; first: ${first}`);
}

export function expectEqual(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expectClose(what, got, want, 0);
}

/** Elements of a (b, h, t, d) tensor stored with strides [sb, sh, st] (d contiguous). */
export function stridedSize(b: number, h: number, t: number, d: number, strides: readonly number[]): number {
  return (b - 1) * strides[0]! + (h - 1) * strides[1]! + (t - 1) * strides[2]! + d;
}

/** Writes a contiguous (b, h, t, d) tensor into `memory` at `offset` with strides [sb, sh, st]. */
export function scatterBHTD(
  contiguous: ArrayLike<number>,
  memory: Float64Array,
  offset: number,
  shape: readonly [number, number, number, number],
  strides: readonly number[],
): void {
  const [B, H, T, D] = shape;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let c = 0; c < D; c++) {
          memory[offset + b * strides[0]! + h * strides[1]! + t * strides[2]! + c] = contiguous[((b * H + h) * T + t) * D + c]!;
        }
}

/** Reads a (b, h, t, d) tensor with strides [sb, sh, st] from `memory` into contiguous order. */
export function gatherBHTD(
  memory: ArrayLike<number>,
  offset: number,
  shape: readonly [number, number, number, number],
  strides: readonly number[],
): Float64Array {
  const [B, H, T, D] = shape;
  const out = new Float64Array(B * H * T * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let c = 0; c < D; c++) {
          out[((b * H + h) * T + t) * D + c] = memory[offset + b * strides[0]! + h * strides[1]! + t * strides[2]! + c]!;
        }
  return out;
}
