// Reductions over one axis (or all elements): sum, mean, max.

import { gradOf, record, type Node } from '../autograd/tape.ts';
import { ReduceOp } from '../backend/kernels.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { expectDtype, normAxis } from './check.ts';
import { contiguous } from './views.ts';

interface ReduceOptions {
  /** Keep the reduced axis with size 1. */
  keepDims?: boolean;
}

const outShape: number[] = [];
const bcastStrides: number[] = [];

function reduce(opName: string, op: ReduceOp, t: Tensor, axis: number | undefined, opts: ReduceOptions, mean: boolean): Tensor {
  expectDtype(opName, t, 'float32', 'the input');
  const src = contiguous(t);
  const dev = src.device;
  let outer = 1;
  let len = src.size;
  let inner = 1;
  outShape.length = 0;
  let ax = -1;
  if (axis !== undefined) {
    ax = normAxis(opName, axis, src.ndim);
    len = src.shape[ax]!;
    for (let i = 0; i < src.ndim; i++) {
      if (i < ax) outer *= src.shape[i]!;
      if (i > ax) inner *= src.shape[i]!;
      if (i !== ax) outShape.push(src.shape[i]!);
      else if (opts.keepDims) outShape.push(1);
    }
  } else if (opts.keepDims) {
    for (let i = 0; i < src.ndim; i++) outShape.push(1);
  }
  if (len === 0) throw new Error(`${opName}: cannot reduce over an empty axis (shape [${src.shape}])`);
  const out = empty(dev, outShape);
  let argmax: Tensor | null = null;
  if (op === ReduceOp.Max) argmax = empty(dev, outShape, 'int32');
  dev.kernels.reduce(op, src.ptr, out.ptr, argmax ? argmax.ptr : 0, outer, len, inner);
  if (mean) dev.kernels.affine(out.ptr, out.ptr, out.size, 1 / len, 0);
  const node = record(op === ReduceOp.Max ? maxBackward : sumBackward, out, src);
  if (node) {
    node.n0 = outer;
    node.n1 = len;
    node.n2 = inner;
    node.n3 = mean ? 1 / len : 1;
    node.s0 = argmax;
  }
  return out;
}

function sumBackward(node: Node): void {
  const x = node.a!;
  const g = node.out.grad!;
  const gx = gradOf(x);
  const dev = x.device;
  let src = g;
  if (node.n3 !== 1) {
    src = empty(dev, g.shape);
    dev.kernels.affine(g.ptr, src.ptr, g.size, node.n3, 0);
  }
  // Read g as (outer, len, inner) with stride 0 along the reduced axis and add it everywhere.
  const shape3 = [node.n0, node.n1, node.n2];
  bcastStrides.length = 3;
  bcastStrides[0] = node.n2;
  bcastStrides[1] = 0;
  bcastStrides[2] = 1;
  dev.kernels.copyStrided(src.ptr, bcastStrides, gx.ptr, [node.n1 * node.n2, node.n2, 1], shape3, true);
}

function maxBackward(node: Node): void {
  // Scatter to the argmax positions; max is used in evaluation code, not in training hot paths.
  const x = node.a!;
  const g = node.out.grad!;
  const gx = gradOf(x);
  const dev = x.device;
  dev.refreshViews();
  const f32 = dev.f32;
  const i32 = dev.i32;
  const arg = node.s0!;
  const inner = node.n2;
  const len = node.n1;
  for (let o = 0; o < node.n0; o++) {
    for (let i = 0; i < inner; i++) {
      const r = o * inner + i;
      f32[gx.ptr + (o * len + i32[arg.ptr + r]!) * inner + i]! += f32[g.ptr + r]!;
    }
  }
}

/** Sum over `axis`, or over all elements when axis is omitted. */
export function sum(t: Tensor, axis?: number, opts: ReduceOptions = {}): Tensor {
  return reduce('sum', ReduceOp.Sum, t, axis, opts, false);
}

export function mean(t: Tensor, axis?: number, opts: ReduceOptions = {}): Tensor {
  return reduce('mean', ReduceOp.Sum, t, axis, opts, true);
}

/** Maximum over `axis` (gradient flows to the first maximum). */
export function max(t: Tensor, axis?: number, opts: ReduceOptions = {}): Tensor {
  return reduce('max', ReduceOp.Max, t, axis, opts, false);
}
