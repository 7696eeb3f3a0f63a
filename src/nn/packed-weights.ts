// Weight packs for decoding. A product of a few rows (one decoding step) is bound by streaming the
// weight, so it reads a smaller copy: on a bf16 device the weight rounded to bf16 (half the bytes,
// and exactly the values the bf16 GEMM multiplies); on an int8 device the weight in q8_0 blocks
// (34 bytes per 32 weights, ggml's Q8_0), which then serves every inference product of the weight,
// whatever its number of rows, since no other kernel multiplies int8 weights. The copy is made on
// first use and kept beside its parameter; it is remade whenever the parameter's storage was written
// since (see writeVersion), so a pack never serves weights that have changed.

import { isGradEnabled } from '../autograd/tape.ts';
import type { Storage } from '../backend/device.ts';
import { devicePrecision } from '../backend/registry.ts';
import { packBf16, packQ8, type PackedWeight } from '../ops/matmul.ts';
import { formatShape, writeVersion, type Tensor } from '../tensor/tensor.ts';

/** bf16: products of at most this many rows stream the packed weight; longer ones run the GEMM. */
export const PACKED_MAX_ROWS = 8;

interface Entry {
  pack: PackedWeight;
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

/**
 * Bytes of weight matrices that inference products of Linear layers and tied LM heads read (the
 * pack's bytes, or 4 per weight for the fp32 GEMM), summed until reset: a bench divides it by the
 * tokens decoded.
 */
export const weightTraffic = { bytes: 0 };

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
 * The pack of parameter w (k, n), or of wᵀ with `transpose` (w (n, k)), made on first use and
 * remade after w changes (which frees the previous pack: use a pack right away, never keep it):
 * q8_0 blocks on an int8 device, bf16 on any other.
 */
export function packedWeight(w: Tensor, transpose = false): PackedWeight {
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
  const pack = devicePrecision(w.device) === 'int8' ? packQ8(w, { transpose }) : packBf16(w, { transpose });
  const entry: Entry = { pack, storage: w.storage, offset: w.offset, version };
  packsMade++;
  if (transpose) slots.transposed = entry;
  else slots.plain = entry;
  return entry.pack;
}

/**
 * The pack to multiply x (..., k) by instead of w, or null for the fp32 GEMM. bf16 devices pack
 * products of at most PACKED_MAX_ROWS rows; int8 devices pack every product; both only products
 * that record no gradient (a packed product has no backward). On an int8 device a product that
 * would record one is refused: int8 weights are for inference.
 */
export function packFor(x: Tensor, w: Tensor, bias: Tensor | null, transpose = false): PackedWeight | null {
  if (!packingOn || !w.isParameter || w.ndim !== 2 || x.ndim < 1 || x.dtype !== 'float32') return null;
  const k = x.shape[x.ndim - 1]!;
  if (k !== w.shape[transpose ? 1 : 0] || x.size === 0) return null;
  const grads = isGradEnabled() && (x.requiresGrad || w.requiresGrad || (bias !== null && bias.requiresGrad));
  const precision = devicePrecision(w.device);
  if (precision === 'int8') {
    if (grads) {
      throw new Error(
        `int8 precision is for inference (generate, serve, eval): a product with the ${formatShape(w.shape)} weight would record gradients for training, ` +
          'and int8 weights have no backward. Train or fine-tune with --precision fp32 or bf16 (or run inference inside noGrad())',
      );
    }
    const pack = packedWeight(w, transpose);
    weightTraffic.bytes += pack.data.size * 4;
    return pack;
  }
  if (grads || x.size > PACKED_MAX_ROWS * k) return null;
  const pack = precision === 'bf16' ? packedWeight(w, transpose) : null;
  weightTraffic.bytes += pack ? pack.data.size * 4 : w.size * 4;
  return pack;
}
