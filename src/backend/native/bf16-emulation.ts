// bf16 matmul precision for backends without bf16 kernels (ref, wasm): wraps their matmul so it
// multiplies operands rounded to bfloat16 (round to nearest even) with fp32 accumulation, the
// numerics of the native backend's bf16 mode. The operands are rounded in place for the call and
// restored afterwards, so callers never see rounded tensors; C must not overlap A or B (true of
// every matmul the ops issue).
//
// This is an emulation for parity and tests, not a speed-up: it copies both operands per call.

import type { DeviceMemory } from '../device.ts';
import type { Kernels } from '../kernels.ts';

/** Rounds u32[from, to) (float32 bits) to bfloat16 in place; NaN stays NaN. */
export function roundBf16InPlace(u32: Uint32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const u = u32[i]!;
    if ((u & 0x7fffffff) > 0x7f800000) u32[i] = u | 0x00400000;
    else u32[i] = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
  }
}

/** Rounds one float32 value to the nearest bfloat16 (ties to even). */
export function bf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer);
  roundBf16InPlace(u, 0, 1);
  return new Float32Array(u.buffer)[0]!;
}

export function emulateBf16Matmul(kernels: Kernels, memory: DeviceMemory): Kernels {
  const inner = kernels.matmul;
  let u32 = new Uint32Array(memory.buffer);

  function view(): Uint32Array {
    if (u32.buffer !== memory.buffer || u32.length * 4 !== memory.buffer.byteLength) u32 = new Uint32Array(memory.buffer);
    return u32;
  }

  return {
    ...kernels,
    matmul(a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB, strideC, accumulate) {
      if (batch === 0 || m === 0 || n === 0 || k === 0) {
        inner(a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB, strideC, accumulate);
        return;
      }
      const mem = view();
      const endA = a + (batch - 1) * strideA + m * k;
      const endB = b + (batch - 1) * strideB + k * n;
      const savedA = mem.slice(a, endA);
      roundBf16InPlace(mem, a, endA);
      // Taken after A was rounded: restoring B first and A last leaves any overlap original.
      const savedB = mem.slice(b, endB);
      roundBf16InPlace(mem, b, endB);
      try {
        inner(a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB, strideC, accumulate);
      } finally {
        const after = view();
        after.set(savedB, b);
        after.set(savedA, a);
      }
    },
  };
}
