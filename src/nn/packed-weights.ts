// bf16 weight packs for decoding. On a device with bf16 matmuls, a product of a few rows (one
// decoding step) is bound by streaming the weight, so it reads a copy rounded to bf16: half the
// bytes, and exactly the values the bf16 GEMM multiplies. The copy is made on first use and kept
// beside its parameter; it is remade whenever the parameter's storage was written since (see
// writeVersion), so a pack never serves weights that have changed.

import { isGradEnabled } from '../autograd/tape.ts';
import type { Storage } from '../backend/device.ts';
import { devicePrecision } from '../backend/registry.ts';
import { packBf16, type PackedBf16 } from '../ops/matmul.ts';
import { formatShape, writeVersion, type Tensor } from '../tensor/tensor.ts';

/** Products of at most this many rows stream the packed weight; longer ones run the GEMM. */
export const PACKED_MAX_ROWS = 8;

interface Entry {
  pack: PackedBf16;
  /** Where the weight lived and its write version when it was packed. */
  storage: Storage;
  offset: number;
  version: number;
}

/** Packs by weight, one slot per orientation (the tied LM head reads wte transposed). */
const packs = new WeakMap<Tensor, { plain: Entry | null; transposed: Entry | null }>();

let packingOn = true;

/** Packs made so far: decoding steps over unchanged weights add none after the first. */
export let packsMade = 0;

/** Runs fn with every product on the fp32 weights (to compare against, or to save the memory). */
export function withoutWeightPacking<T>(fn: () => T): T {
  const prev = packingOn;
  packingOn = false;
  try {
    return fn();
  } finally {
    packingOn = prev;
  }
}

/**
 * The bf16 pack of parameter w (k, n), or of wᵀ with `transpose` (w (n, k)), made on first use
 * and remade after w changes (which frees the previous pack: use a pack right away, never keep it).
 */
export function packedWeight(w: Tensor, transpose = false): PackedBf16 {
  if (!w.isParameter) throw new Error(`packedWeight: only parameters are packed (the pack lives as long as its weight); got a ${w.dtype} tensor of shape ${formatShape(w.shape)}`);
  let slots = packs.get(w);
  if (!slots) {
    slots = { plain: null, transposed: null };
    packs.set(w, slots);
  }
  const old = transpose ? slots.transposed : slots.plain;
  const version = writeVersion(w.storage);
  if (old && old.storage === w.storage && old.offset === w.offset && old.version === version) return old.pack;
  // Release the stale copy now: a model that trains and samples in turn would otherwise hold one per update until GC.
  if (old) old.pack.data.device.freeStorage(old.pack.data.storage);
  const entry: Entry = { pack: packBf16(w, { transpose }), storage: w.storage, offset: w.offset, version };
  packsMade++;
  if (transpose) slots.transposed = entry;
  else slots.plain = entry;
  return entry.pack;
}

/**
 * The pack to multiply x (..., k) by instead of w, or null for the fp32 GEMM: packs serve bf16
 * devices, products of at most PACKED_MAX_ROWS rows, and only products that record no gradient
 * (the packed product has no backward).
 */
export function packFor(x: Tensor, w: Tensor, bias: Tensor | null, transpose = false): PackedBf16 | null {
  if (!packingOn || !w.isParameter || w.ndim !== 2 || x.ndim < 1 || x.dtype !== 'float32') return null;
  const k = x.shape[x.ndim - 1]!;
  if (k !== w.shape[transpose ? 1 : 0] || x.size > PACKED_MAX_ROWS * k || x.size === 0) return null;
  if (isGradEnabled() && (x.requiresGrad || w.requiresGrad || (bias !== null && bias.requiresGrad))) return null;
  return devicePrecision(w.device) === 'bf16' ? packedWeight(w, transpose) : null;
}
