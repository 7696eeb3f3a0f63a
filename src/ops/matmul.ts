// Matrix products. One GEMM kernel serves every case through its transpose flags, batch strides
// and fused bias; backward is two more GEMMs. A weight shared across the batch is folded into one
// large GEMM (rows = batch·M), which keeps both cores busy and needs no reduction over the batch.

import { gradOf, isGradEnabled, record, type Node } from '../autograd/tape.ts';
import { q8RowBytes, quantizeQ8Block, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from '../backend/q8-0.ts';
import { empty, formatShape, markWritten, type Tensor } from '../tensor/tensor.ts';
import { expectDtype, sameDevice } from './check.ts';
import { contiguous } from './views.ts';

export interface MatmulOptions {
  /** Use the transpose of a's last two dimensions. */
  transA?: boolean;
  /** Use the transpose of b's last two dimensions. */
  transB?: boolean;
}

const shapeOut: number[] = [];

/** The matrix dims of a contiguous operand: rows, cols, batch count. */
function dims(t: Tensor): [number, number, number] {
  const r = t.shape[t.ndim - 2]!;
  const c = t.shape[t.ndim - 1]!;
  return [r, c, t.size / (r * c || 1)];
}

/**
 * Batched matrix product op(a) · op(b) over the last two dimensions. a is (..., M, K) and b is
 * (..., K, N) with the same leading dimensions, or b is a single (K, N) matrix shared by the batch.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return gemm('matmul', a, b, null, opts.transA ?? false, opts.transB ?? false);
}

/**
 * x · w + bias with w stored (in, out), the layout of GPT-2's Conv1D weights.
 * x is (..., in); the result is (..., out).
 */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  if (w.ndim !== 2) throw new Error(`linear: weight must be 2-D (in, out), got ${formatShape(w.shape)}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== w.shape[1])) {
    throw new Error(`linear: bias shape ${formatShape(bias.shape)} does not match weight ${formatShape(w.shape)}; expected [${w.shape[1]}]`);
  }
  return gemm('linear', x, w, bias, false, false);
}

/**
 * x · wᵀ + bias with w stored (out, in), the layout of torch.nn.Linear (Llama-family checkpoints).
 * x is (..., in); the result is (..., out).
 */
export function linearOutIn(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  if (w.ndim !== 2) throw new Error(`linearOutIn: weight must be 2-D (out, in), got ${formatShape(w.shape)}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== w.shape[0])) {
    throw new Error(`linearOutIn: bias shape ${formatShape(bias.shape)} does not match weight ${formatShape(w.shape)}; expected [${w.shape[0]}]`);
  }
  return gemm('linearOutIn', x, w, bias, false, true);
}

/**
 * A weight matrix rounded to bfloat16 for decoding: half the bytes of fp32 to stream per token,
 * and exactly the values a bf16-precision matmul multiplies. (k, n) as linearBf16 reads it.
 */
export interface PackedBf16 {
  readonly format: 'bf16';
  /** ceil(k·n / 2) float32-sized elements holding the 16-bit values. */
  readonly data: Tensor;
  readonly k: number;
  readonly n: number;
}

/**
 * Packs w (k, n), or w (n, k) read transposed (the tied LM head: wte is (vocab, C)), for
 * linearBf16. The packed copy lives on the heap, like a parameter, until it is garbage.
 */
export function packBf16(w: Tensor, opts: { transpose?: boolean } = {}): PackedBf16 {
  expectDtype('packBf16', w, 'float32', 'the weight');
  if (w.ndim !== 2) throw new Error(`packBf16: weight must be 2-D, got ${formatShape(w.shape)}`);
  const transpose = opts.transpose ?? false;
  const [rows, cols] = w.shape as [number, number];
  const dev = w.device;
  const src = contiguous(w);
  const data = dev.heapScope(() => empty(dev, [Math.max(1, Math.ceil((rows * cols) / 2))]));
  dev.kernels.packBf16(src.ptr, data.ptr, rows, cols, transpose);
  return transpose ? { format: 'bf16', data, k: cols, n: rows } : { format: 'bf16', data, k: rows, n: cols };
}

/**
 * x (..., k) · packed (k, n) + bias with bf16 operands and fp32 accumulation. Inference only: it
 * records no gradient, so it refuses inputs that would need one.
 */
export function linearBf16(x: Tensor, w: PackedBf16, bias: Tensor | null = null): Tensor {
  const dev = sameDevice('linearBf16', x, w.data);
  expectDtype('linearBf16', x, 'float32', 'the input');
  if (isGradEnabled() && x.requiresGrad) throw new Error('linearBf16: packed bf16 weights are for inference; call it inside noGrad()');
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== w.k) throw new Error(`linearBf16: input ${formatShape(x.shape)} does not end in the packed weight's ${w.k} inputs`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== w.n)) throw new Error(`linearBf16: bias shape ${formatShape(bias.shape)} does not match the packed weight's ${w.n} outputs`);
  const a = contiguous(x);
  shapeOut.length = x.ndim;
  for (let i = 0; i < x.ndim - 1; i++) shapeOut[i] = x.shape[i]!;
  shapeOut[x.ndim - 1] = w.n;
  const out = empty(dev, shapeOut);
  dev.kernels.matmulBf16(a.ptr, w.data.ptr, out.ptr, bias ? contiguous(bias).ptr : 0, x.size / w.k, w.n, w.k);
  return out;
}

/**
 * A weight matrix in q8_0 blocks for int8 decoding (backend/q8-0.ts): output j's k weights are row
 * j, ceil(k / 32) blocks of 34 bytes, so the pack of a matrix whose k is a multiple of 32 is byte
 * for byte the Q8_0 tensor a GGUF file holds for it (rows along the input dimension, as ggml's).
 */
export interface PackedQ8 {
  readonly format: 'q8_0';
  /** ceil(n · rowBytes / 4) float32-sized elements holding the blocks. */
  readonly data: Tensor;
  readonly k: number;
  readonly n: number;
}

/** A weight matrix packed for decoding (see nn/packed-weights.ts). */
export type PackedWeight = PackedBf16 | PackedQ8;

/**
 * Quantizes w (k, n), or w (n, k) read transposed (the tied LM head; torch.nn.Linear weights), to
 * q8_0 blocks along k with the shared quantizer (bit-identical to llama.cpp's). Runs on the host,
 * once per weight: the blocks are written straight into a device buffer.
 */
export function packQ8(w: Tensor, opts: { transpose?: boolean } = {}): PackedQ8 {
  expectDtype('packQ8', w, 'float32', 'the weight');
  if (w.ndim !== 2) throw new Error(`packQ8: weight must be 2-D, got ${formatShape(w.shape)}`);
  const transpose = opts.transpose ?? false;
  const [rows, cols] = w.shape as [number, number];
  const k = transpose ? cols : rows;
  const n = transpose ? rows : cols;
  const dev = w.device;
  const src = contiguous(w);
  const rowBytes = q8RowBytes(k);
  const data = dev.heapScope(() => empty(dev, [Math.max(1, Math.ceil((n * rowBytes) / 4))]));
  dev.refreshViews();
  const f = dev.f32;
  const out = new Uint8Array(f.buffer, f.byteOffset + data.ptr * 4, n * rowBytes);
  if (transpose) {
    // Row j of the pack is row j of w: quantized in place from the device memory.
    for (let j = 0; j < n; j++) {
      const from = src.ptr + j * k;
      for (let p = 0, at = j * rowBytes; p < k; p += Q8_0_BLOCK, at += Q8_0_BLOCK_BYTES) quantizeQ8Block(f, from + p, Math.min(Q8_0_BLOCK, k - p), out, at);
    }
  } else {
    // Row j of the pack is column j of w: 32 rows of w at a time (a few hundred KiB, in cache)
    // are gathered a block at a time.
    const block = new Float32Array(Q8_0_BLOCK);
    for (let p = 0, b = 0; p < k; p += Q8_0_BLOCK, b++) {
      const count = Math.min(Q8_0_BLOCK, k - p);
      for (let j = 0; j < n; j++) {
        for (let t = 0, at = src.ptr + p * n + j; t < count; t++, at += n) block[t] = f[at]!;
        quantizeQ8Block(block, 0, count, out, j * rowBytes + b * Q8_0_BLOCK_BYTES);
      }
    }
  }
  markWritten(data.storage);
  return { format: 'q8_0', data, k, n };
}

/**
 * x (..., k) · packed (k, n) + bias computed from the int8 blocks, accumulated in fp32 (the
 * matmulQ8 kernel; wasm rounds x to int16 per block for its integer dot products). Inference
 * only: it records no gradient, so it refuses inputs that would need one.
 */
export function linearQ8(x: Tensor, w: PackedQ8, bias: Tensor | null = null): Tensor {
  const dev = sameDevice('linearQ8', x, w.data);
  expectDtype('linearQ8', x, 'float32', 'the input');
  if (isGradEnabled() && x.requiresGrad) throw new Error('linearQ8: int8 weights are for inference; call it inside noGrad()');
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== w.k) throw new Error(`linearQ8: input ${formatShape(x.shape)} does not end in the packed weight's ${w.k} inputs`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== w.n)) throw new Error(`linearQ8: bias shape ${formatShape(bias.shape)} does not match the packed weight's ${w.n} outputs`);
  const a = contiguous(x);
  shapeOut.length = x.ndim;
  for (let i = 0; i < x.ndim - 1; i++) shapeOut[i] = x.shape[i]!;
  shapeOut[x.ndim - 1] = w.n;
  const out = empty(dev, shapeOut);
  dev.kernels.matmulQ8(a.ptr, w.data.ptr, out.ptr, bias ? contiguous(bias).ptr : 0, x.size / w.k, w.n, w.k);
  return out;
}

/** x · the packed weight (+ bias), whichever its format. */
export function linearPacked(x: Tensor, w: PackedWeight, bias: Tensor | null = null): Tensor {
  return w.format === 'q8_0' ? linearQ8(x, w, bias) : linearBf16(x, w, bias);
}

function gemm(op: string, aIn: Tensor, bIn: Tensor, bias: Tensor | null, transA: boolean, transB: boolean): Tensor {
  const dev = sameDevice(op, aIn, bIn);
  expectDtype(op, aIn, 'float32', 'the first operand');
  expectDtype(op, bIn, 'float32', 'the second operand');
  if (aIn.ndim < 2 || bIn.ndim < 2) {
    throw new Error(`${op}: operands need at least 2 dimensions, got ${formatShape(aIn.shape)} and ${formatShape(bIn.shape)}`);
  }
  const a = contiguous(aIn);
  const b = contiguous(bIn);
  const [ar, ac, batchA] = dims(aIn);
  const [br, bc] = dims(bIn);
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) {
    throw new Error(`${op}: inner dimensions differ: ${formatShape(aIn.shape)}${transA ? 'ᵀ' : ''} · ${formatShape(bIn.shape)}${transB ? 'ᵀ' : ''} (${k} vs ${kb})`);
  }
  const sharedB = bIn.ndim === 2;
  if (!sharedB) {
    let same = aIn.ndim === bIn.ndim;
    for (let i = 0; same && i < aIn.ndim - 2; i++) same = aIn.shape[i] === bIn.shape[i];
    if (!same) {
      throw new Error(`${op}: batch dimensions of ${formatShape(aIn.shape)} and ${formatShape(bIn.shape)} differ; use equal leading dimensions or a 2-D second operand`);
    }
  }
  shapeOut.length = aIn.ndim;
  for (let i = 0; i < aIn.ndim - 2; i++) shapeOut[i] = aIn.shape[i]!;
  shapeOut[aIn.ndim - 2] = m;
  shapeOut[aIn.ndim - 1] = n;
  const out = empty(dev, shapeOut);
  const biasPtr = bias ? contiguous(bias).ptr : 0;
  if (sharedB && !transA) {
    // Fold the batch into rows: one (batch·M)×K · K×N product.
    dev.kernels.matmul(a.ptr, b.ptr, out.ptr, biasPtr, 1, batchA * m, n, k, false, transB, 0, 0, 0, false);
  } else {
    dev.kernels.matmul(a.ptr, b.ptr, out.ptr, biasPtr, batchA, m, n, k, transA, transB, m * k, sharedB ? 0 : k * n, m * n, false);
  }
  const node = record(gemmBackward, out, a, b, bias);
  if (node) {
    node.n0 = transA ? 1 : 0;
    node.n1 = transB ? 1 : 0;
    node.n2 = batchA;
    node.n3 = sharedB ? 1 : 0;
    node.dims.push(m, n, k);
  }
  return out;
}

function gemmBackward(node: Node): void {
  const a = node.a!;
  const b = node.b!;
  const bias = node.c;
  const g = node.out.grad!;
  const kern = node.out.device.kernels;
  const transA = node.n0 === 1;
  const transB = node.n1 === 1;
  const batch = node.n2;
  const sharedB = node.n3 === 1;
  const m = node.dims[0]!;
  const n = node.dims[1]!;
  const k = node.dims[2]!;
  const sB = sharedB ? 0 : k * n;
  if (a.requiresGrad) {
    const ga = gradOf(a);
    if (!transA) {
      // dA (M×K) = dC · op(B)ᵀ
      if (sharedB) kern.matmul(g.ptr, b.ptr, ga.ptr, 0, 1, batch * m, k, n, false, !transB, 0, 0, 0, true);
      else kern.matmul(g.ptr, b.ptr, ga.ptr, 0, batch, m, k, n, false, !transB, m * n, sB, m * k, true);
    } else {
      // A stored K×M: dA = op(B) · dCᵀ
      kern.matmul(b.ptr, g.ptr, ga.ptr, 0, batch, k, m, n, transB, true, sB, m * n, m * k, true);
    }
  }
  if (b.requiresGrad) {
    const gb = gradOf(b);
    if (sharedB && !transA) {
      // Sum over the batch inside one GEMM: rows of A and dC are stacked (batch·M).
      if (!transB) kern.matmul(a.ptr, g.ptr, gb.ptr, 0, 1, k, n, batch * m, true, false, 0, 0, 0, true);
      else kern.matmul(g.ptr, a.ptr, gb.ptr, 0, 1, n, k, batch * m, true, false, 0, 0, 0, true);
    } else {
      // Per batch element; a shared B accumulates every element's contribution in turn.
      const calls = sharedB ? batch : 1;
      const inner = sharedB ? 1 : batch;
      for (let i = 0; i < calls; i++) {
        const aPtr = a.ptr + i * m * k;
        const gPtr = g.ptr + i * m * n;
        if (!transB) kern.matmul(aPtr, gPtr, gb.ptr, 0, inner, k, n, m, !transA, false, m * k, m * n, sB, true);
        else kern.matmul(gPtr, aPtr, gb.ptr, 0, inner, n, k, m, true, transA, m * n, m * k, sB, true);
      }
    }
  }
  if (bias && bias.requiresGrad) {
    // dBias = column sums of dC: read dC as (rows, N) into a stride-0-row destination.
    const gbias = gradOf(bias);
    kern.copyStrided(g.ptr, [n, 1], gbias.ptr, [0, 1], [g.size / n, n], true);
  }
}
