// Elementwise ops: binary arithmetic with NumPy broadcasting, scalar affine maps, activations and
// dropout. Each forward sits next to its gradient rule.

import { gradOf, record, type Node } from '../autograd/tape.ts';
import { BinaryOp, UnaryOp } from '../backend/kernels.ts';
import { empty, formatShape, sameShape, type Tensor } from '../tensor/tensor.ts';
import { broadcastShape, broadcastStrides, expectDtype, sameDevice } from './check.ts';
import { contiguous } from './views.ts';

const stridesA: number[] = [];
const stridesB: number[] = [];
const stridesG: number[] = [];

function binary(opName: string, op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const dev = sameDevice(opName, a, b);
  expectDtype(opName, a, 'float32', 'the first operand');
  expectDtype(opName, b, 'float32', 'the second operand');
  const shape = broadcastShape(opName, a.shape, b.shape);
  const out = empty(dev, shape);
  dev.kernels.binary(op, a.ptr, broadcastStrides(a, shape, stridesA), b.ptr, broadcastStrides(b, shape, stridesB), out.ptr, shape);
  const node = record(binaryBackward, out, a, b);
  if (node) node.n0 = op;
  return out;
}

/** Adds g (shaped like the output) into t's gradient, summing over t's broadcast dimensions. */
function accumulateBroadcast(g: Tensor, t: Tensor): void {
  const gt = gradOf(t);
  if (gt.size === g.size) {
    // No broadcast dimension: a plain vector add (both are contiguous in the same order).
    t.device.kernels.axpy(g.ptr, gt.ptr, g.size, 1);
    return;
  }
  const dst = broadcastStrides(gt, g.shape, stridesG);
  t.device.kernels.copyStrided(g.ptr, g.strides, gt.ptr, dst, g.shape, true);
}

function binaryBackward(node: Node): void {
  const a = node.a!;
  const b = node.b!;
  const out = node.out;
  const g = out.grad!;
  const k = out.device.kernels;
  const shape = g.shape;
  const op = node.n0 as BinaryOp;
  if (a.requiresGrad) {
    if (op === BinaryOp.Add || op === BinaryOp.Sub) accumulateBroadcast(g, a);
    else {
      // d(a*b)/da = b ; d(a/b)/da = 1/b
      const t = empty(out.device, shape);
      k.binary(op, g.ptr, g.strides, b.ptr, broadcastStrides(b, shape, stridesB), t.ptr, shape);
      accumulateBroadcast(t, a);
    }
  }
  if (b.requiresGrad) {
    if (op === BinaryOp.Add) accumulateBroadcast(g, b);
    else {
      const t = empty(out.device, shape);
      if (op === BinaryOp.Sub) k.affine(g.ptr, t.ptr, g.size, -1, 0);
      else if (op === BinaryOp.Mul) k.binary(BinaryOp.Mul, g.ptr, g.strides, a.ptr, broadcastStrides(a, shape, stridesA), t.ptr, shape);
      else {
        // d(a/b)/db = -(a/b)/b = -out/b
        k.binary(BinaryOp.Mul, g.ptr, g.strides, out.ptr, out.strides, t.ptr, shape);
        k.binary(BinaryOp.Div, t.ptr, t.strides, b.ptr, broadcastStrides(b, shape, stridesB), t.ptr, shape);
        k.affine(t.ptr, t.ptr, t.size, -1, 0);
      }
      accumulateBroadcast(t, b);
    }
  }
}

export function add(a: Tensor, b: Tensor): Tensor {
  return binary('add', BinaryOp.Add, a, b);
}
export function sub(a: Tensor, b: Tensor): Tensor {
  return binary('sub', BinaryOp.Sub, a, b);
}
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary('mul', BinaryOp.Mul, a, b);
}
export function div(a: Tensor, b: Tensor): Tensor {
  return binary('div', BinaryOp.Div, a, b);
}

/** alpha · t + beta, elementwise. */
export function affine(t: Tensor, alpha: number, beta = 0): Tensor {
  expectDtype('affine', t, 'float32', 'the input');
  const src = contiguous(t);
  const out = empty(src.device, src.shape);
  src.device.kernels.affine(src.ptr, out.ptr, src.size, alpha, beta);
  const node = record(affineBackward, out, src);
  if (node) node.n0 = alpha;
  return out;
}

function affineBackward(node: Node): void {
  const g = node.out.grad!;
  node.out.device.kernels.axpy(g.ptr, gradOf(node.a!).ptr, g.size, node.n0);
}

export function scale(t: Tensor, alpha: number): Tensor {
  return affine(t, alpha, 0);
}

function unary(opName: string, op: UnaryOp, t: Tensor): Tensor {
  expectDtype(opName, t, 'float32', 'the input');
  const src = contiguous(t);
  const out = empty(src.device, src.shape);
  src.device.kernels.unary(op, src.ptr, out.ptr, src.size);
  const node = record(unaryBackward, out, src);
  if (node) node.n0 = op;
  return out;
}

function unaryBackward(node: Node): void {
  const x = node.a!;
  const g = node.out.grad!;
  node.out.device.kernels.unaryBackward(node.n0 as UnaryOp, x.ptr, g.ptr, gradOf(x).ptr, g.size);
}

/** GELU, tanh approximation (as GPT-2). */
export function gelu(t: Tensor): Tensor {
  return unary('gelu', UnaryOp.Gelu, t);
}
export function relu(t: Tensor): Tensor {
  return unary('relu', UnaryOp.Relu, t);
}
export function tanh(t: Tensor): Tensor {
  return unary('tanh', UnaryOp.Tanh, t);
}
export function exp(t: Tensor): Tensor {
  return unary('exp', UnaryOp.Exp, t);
}
export function neg(t: Tensor): Tensor {
  return unary('neg', UnaryOp.Neg, t);
}
/** x · sigmoid(x), the gate of SwiGLU MLPs. */
export function silu(t: Tensor): Tensor {
  return unary('silu', UnaryOp.Silu, t);
}

/**
 * silu(gate) · up, the SwiGLU MLP's product, in one kernel: silu(gate) is never stored (backward
 * recomputes it from gate), which saves one (…, intermediate) activation per layer.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const dev = sameDevice('swiglu', gate, up);
  expectDtype('swiglu', gate, 'float32', 'gate');
  expectDtype('swiglu', up, 'float32', 'up');
  if (!sameShape(gate.shape, up.shape)) throw new Error(`swiglu: gate ${formatShape(gate.shape)} and up ${formatShape(up.shape)} must have the same shape`);
  const g = contiguous(gate);
  const u = contiguous(up);
  const out = empty(dev, g.shape);
  dev.kernels.swigluForward(g.ptr, u.ptr, out.ptr, g.size);
  record(swigluBackward, out, g, u);
  return out;
}

function swigluBackward(node: Node): void {
  const gate = node.a!;
  const up = node.b!;
  const g = node.out.grad!;
  const gg = gate.requiresGrad ? gradOf(gate).ptr : 0;
  const gu = up.requiresGrad ? gradOf(up).ptr : 0;
  node.out.device.kernels.swigluBackward(gate.ptr, up.ptr, g.ptr, gg, gu, g.size);
}

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
 * The mask is a pure function of (seed, element index), so runs are reproducible on every
 * backend and backward regenerates the mask instead of storing it.
 */
export function dropout(t: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return t;
  expectDtype('dropout', t, 'float32', 'the input');
  const src = contiguous(t);
  const out = empty(src.device, src.shape);
  src.device.kernels.dropoutForward(src.ptr, out.ptr, src.size, p, seed >>> 0, 0);
  const node = record(dropoutBackward, out, src);
  if (node) {
    node.n0 = p;
    node.n1 = seed >>> 0;
  }
  return out;
}

function dropoutBackward(node: Node): void {
  const g = node.out.grad!;
  node.out.device.kernels.dropoutBackward(g.ptr, gradOf(node.a!).ptr, g.size, node.n0, node.n1, 0);
}
