// View ops: reshape, permute/transpose, slice share storage with their input; contiguous copies a
// strided view into a fresh row-major block. Gradients are always contiguous tensors shaped like
// their tensor, so each backward maps the view's gradient back onto the base's layout. writeSlice
// is slice's in-place counterpart, for buffers filled piece by piece (the KV cache).

import { gradOf, isGradEnabled, record, type Node } from '../autograd/tape.ts';
import { empty, formatShape, markWritten, shapeSize, viewOf, type Tensor } from '../tensor/tensor.ts';
import { expectDtype, normAxis, sameDevice } from './check.ts';

const scratchShape: number[] = [];
const scratchStrides: number[] = [];

/** Same elements, new shape (one dimension may be -1). Copies only if t is not contiguous. */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  let infer = -1;
  let known = 1;
  scratchShape.length = shape.length;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === -1) {
      if (infer >= 0) throw new Error(`reshape: only one dimension may be -1, got ${formatShape(shape)}`);
      infer = i;
    } else known *= d;
    scratchShape[i] = d;
  }
  if (infer >= 0) {
    if (known === 0 || t.size % known !== 0) throw new Error(`reshape: cannot reshape ${formatShape(t.shape)} into ${formatShape(shape)}`);
    scratchShape[infer] = t.size / known;
  }
  if (shapeSize(scratchShape) !== t.size) {
    throw new Error(`reshape: cannot reshape ${formatShape(t.shape)} (${t.size} elements) into ${formatShape(shape)}`);
  }
  const src = viewStrides(t.shape, t.strides, scratchShape, scratchStrides) ? t : contiguous(t);
  if (src !== t) viewStrides(src.shape, src.strides, scratchShape, scratchStrides);
  const out = viewOf(src, scratchShape, scratchStrides, src.offset);
  record(sameSizeBackward, out, src);
  return out;
}

/**
 * Strides that let `shape` view memory laid out as (oldShape, oldStrides), written to `out`;
 * false when the dimensions being merged are not contiguous with each other (a copy is needed).
 * Each run of old dimensions is matched with the run of new dimensions of the same total size.
 */
function viewStrides(oldShape: readonly number[], oldStrides: readonly number[], shape: readonly number[], out: number[]): boolean {
  if (shapeSize(shape) === 0) return false;
  // Size-1 dimensions carry no layout information: drop them from the old shape.
  oldDims.length = 0;
  oldDimStrides.length = 0;
  for (let i = 0; i < oldShape.length; i++) {
    if (oldShape[i] === 1) continue;
    oldDims.push(oldShape[i]!);
    oldDimStrides.push(oldStrides[i]!);
  }
  out.length = shape.length;
  let oi = 0;
  let ni = 0;
  while (ni < shape.length) {
    if (shape[ni] === 1) {
      out[ni++] = 1;
      continue;
    }
    let oj = oi + 1;
    let nj = ni + 1;
    let op = oldDims[oi]!;
    let np = shape[ni]!;
    while (op !== np) {
      if (np < op) np *= shape[nj++]!;
      else op *= oldDims[oj++]!;
    }
    for (let k = oi; k < oj - 1; k++) {
      if (oldDimStrides[k] !== oldDims[k + 1]! * oldDimStrides[k + 1]!) return false;
    }
    out[nj - 1] = oldDimStrides[oj - 1]!;
    for (let k = nj - 1; k > ni; k--) out[k - 1] = out[k]! * shape[k]!;
    oi = oj;
    ni = nj;
  }
  return true;
}
const oldDims: number[] = [];
const oldDimStrides: number[] = [];

/** Gradient of an op whose output has the input's elements in the same order. */
function sameSizeBackward(node: Node): void {
  const g = node.out.grad!;
  const ga = gradOf(node.a!);
  node.out.device.kernels.axpy(g.ptr, ga.ptr, g.size, 1);
}

/** Reorders dimensions: out.shape[i] = t.shape[dims[i]] (no copy). */
export function permute(t: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== t.ndim) throw new Error(`permute: got ${dims.length} dims ${formatShape(dims)} for a tensor of shape ${formatShape(t.shape)}`);
  scratchShape.length = dims.length;
  scratchStrides.length = dims.length;
  let seen = 0;
  for (let i = 0; i < dims.length; i++) {
    const d = normAxis('permute', dims[i]!, t.ndim);
    if (seen & (1 << d)) throw new Error(`permute: dimension ${d} appears twice in ${formatShape(dims)}`);
    seen |= 1 << d;
    scratchShape[i] = t.shape[d]!;
    scratchStrides[i] = t.strides[d]!;
  }
  const out = viewOf(t, scratchShape, scratchStrides, t.offset);
  const node = record(permuteBackward, out, t);
  if (node) for (let i = 0; i < dims.length; i++) node.dims.push(normAxis('permute', dims[i]!, t.ndim));
  return out;
}

function permuteBackward(node: Node): void {
  const g = node.out.grad!;
  const ga = gradOf(node.a!);
  // Walk the output's index space; output dim i lands on input dim dims[i].
  scratchStrides.length = node.dims.length;
  for (let i = 0; i < node.dims.length; i++) scratchStrides[i] = ga.strides[node.dims[i]!]!;
  node.out.device.kernels.copyStrided(g.ptr, g.strides, ga.ptr, scratchStrides, g.shape, true);
}

/** Swaps two dimensions (no copy). */
export function transpose(t: Tensor, dim0: number, dim1: number): Tensor {
  const dims: number[] = [];
  for (let i = 0; i < t.ndim; i++) dims.push(i);
  const a = normAxis('transpose', dim0, t.ndim);
  const b = normAxis('transpose', dim1, t.ndim);
  dims[a] = b;
  dims[b] = a;
  return permute(t, dims);
}

/** Elements start..end-1 along `dim` (no copy). */
export function slice(t: Tensor, dim: number, start: number, end: number): Tensor {
  const d = normAxis('slice', dim, t.ndim);
  const len = t.shape[d]!;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > len || start > end) {
    throw new Error(`slice: range [${start}, ${end}) is invalid for dimension ${d} of size ${len} (shape ${formatShape(t.shape)})`);
  }
  scratchShape.length = t.ndim;
  for (let i = 0; i < t.ndim; i++) scratchShape[i] = i === d ? end - start : t.shape[i]!;
  const out = viewOf(t, scratchShape, t.strides, t.offset + start * t.strides[d]!);
  const node = record(sliceBackward, out, t);
  if (node) {
    node.n0 = d;
    node.n1 = start;
  }
  return out;
}

function sliceBackward(node: Node): void {
  const g = node.out.grad!;
  const ga = gradOf(node.a!);
  const offset = node.n1 * ga.strides[node.n0]!;
  node.out.device.kernels.copyStrided(g.ptr, g.strides, ga.ptr + offset, ga.strides, g.shape, true);
}

/**
 * Writes src into dst's elements start..start+len-1 along `dim` (len = src's size there; every
 * other dimension equal), in place. It records no gradient — what is overwritten has none to give
 * back — so it refuses tensors that need one: fill caches inside noGrad().
 */
export function writeSlice(dst: Tensor, dim: number, start: number, src: Tensor): void {
  const dev = sameDevice('writeSlice', dst, src);
  expectDtype('writeSlice', dst, 'float32', 'the destination');
  expectDtype('writeSlice', src, 'float32', 'the source');
  const d = normAxis('writeSlice', dim, dst.ndim);
  let fits = src.ndim === dst.ndim;
  for (let i = 0; fits && i < dst.ndim; i++) fits = i === d || src.shape[i] === dst.shape[i];
  if (!fits) throw new Error(`writeSlice: source ${formatShape(src.shape)} must match the destination ${formatShape(dst.shape)} in every dimension but ${d}`);
  const len = src.shape[d]!;
  if (!Number.isInteger(start) || start < 0 || start + len > dst.shape[d]!) {
    throw new Error(`writeSlice: positions [${start}, ${start + len}) do not fit dimension ${d} of size ${dst.shape[d]} (destination ${formatShape(dst.shape)})`);
  }
  if (isGradEnabled() && (src.requiresGrad || dst.requiresGrad)) {
    throw new Error(`writeSlice: writes into ${formatShape(dst.shape)} in place without recording a gradient, but the ${src.requiresGrad ? 'source' : 'destination'} requires one; call it inside noGrad()`);
  }
  if (src.size === 0) return;
  const at = dst.ptr + start * dst.strides[d]!;
  if (src.storage === dst.storage && spansMeet(src, at, dst.strides)) throw new Error('writeSlice: the source overlaps the region it would be written to; pass a copy (clone) of it');
  dev.kernels.copyStrided(src.ptr, src.strides, at, dst.strides, src.shape, false);
  markWritten(dst.storage);
}

/** Whether src's memory span meets the span its shape covers at `at` with `strides` (conservative: spans, not elements). */
function spansMeet(src: Tensor, at: number, strides: readonly number[]): boolean {
  let srcEnd = src.ptr;
  let dstEnd = at;
  for (let i = 0; i < src.ndim; i++) {
    srcEnd += (src.shape[i]! - 1) * src.strides[i]!;
    dstEnd += (src.shape[i]! - 1) * strides[i]!;
  }
  return src.ptr <= dstEnd && at <= srcEnd;
}

/** t itself when already row-major, else a row-major copy. */
export function contiguous(t: Tensor): Tensor {
  if (t.isContiguous()) return t;
  return copyOf(t);
}

/** A tensor sharing t's data but cut from the graph (no gradient flows through it). */
export function detach(t: Tensor): Tensor {
  return viewOf(t, t.shape, t.strides, t.offset);
}

/** A row-major copy that gradients flow through. */
export function clone(t: Tensor): Tensor {
  return copyOf(t);
}

function copyOf(t: Tensor): Tensor {
  const out = empty(t.device, t.shape, t.dtype);
  // Integer tensors are copied through the int32 view: a float copy could canonicalise bit patterns.
  if (t.dtype === 'int32') return out.set(t.toArray());
  t.device.kernels.copyStrided(t.ptr, t.strides, out.ptr, out.strides, out.shape, false);
  record(sameSizeBackward, out, t);
  return out;
}
