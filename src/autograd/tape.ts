// Reverse-mode autograd. Each op that sees an input with requiresGrad records a Node holding its
// inputs, saved tensors and a module-level backward function (no closures, so nodes can be pooled:
// inside a device scope a steady-state step creates no Node objects). backward() orders the graph
// reachable from the output topologically and runs the nodes in reverse.

import type { Device } from '../backend/device.ts';
import { empty, formatShape, sameShape, type GradNode, type Tensor } from '../tensor/tensor.ts';

export type BackwardFn = (node: Node) => void;

export class Node implements GradNode {
  fn!: BackwardFn;
  out!: Tensor;
  /** Inputs (unused slots are null). */
  a: Tensor | null = null;
  b: Tensor | null = null;
  c: Tensor | null = null;
  /** Tensors saved for backward. */
  s0: Tensor | null = null;
  s1: Tensor | null = null;
  s2: Tensor | null = null;
  /** Scalars saved for backward. */
  n0 = 0;
  n1 = 0;
  n2 = 0;
  n3 = 0;
  /** Shape/dims saved for backward (reused array). */
  dims: number[] = [];
  visited = 0;

  backward(): void {
    this.fn(this);
  }
}

let gradEnabled = true;

/** Runs fn without recording anything for backward (inference, evaluation, weight updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

interface NodePool {
  items: Node[];
  next: number;
}
const nodePools = new WeakMap<Device, NodePool>();

/** Nodes constructed so far (a steady-state scoped step adds none). */
export let nodesCreated = 0;

function takeNode(device: Device): Node {
  if (!device.inScope) {
    nodesCreated++;
    return new Node();
  }
  let pool = nodePools.get(device);
  if (!pool) {
    const created: NodePool = { items: [], next: 0 };
    device.onScopeEnd(() => {
      for (let i = 0; i < created.next; i++) clearNode(created.items[i]!);
      created.next = 0;
    });
    nodePools.set(device, created);
    pool = created;
  }
  if (pool.next < pool.items.length) return pool.items[pool.next++]!;
  nodesCreated++;
  const node = new Node();
  pool.items.push(node);
  pool.next++;
  return node;
}

function clearNode(n: Node): void {
  n.a = n.b = n.c = null;
  n.s0 = n.s1 = n.s2 = null;
}

/**
 * Records `out` as produced by fn from the inputs, when gradients are enabled and some input
 * needs one. Returns the node (for saving tensors/scalars) or null when nothing was recorded.
 */
export function record(fn: BackwardFn, out: Tensor, a: Tensor, b: Tensor | null = null, c: Tensor | null = null): Node | null {
  if (!gradEnabled) return null;
  if (!a.requiresGrad && !(b && b.requiresGrad) && !(c && c.requiresGrad)) return null;
  const node = takeNode(out.device);
  node.fn = fn;
  node.out = out;
  node.a = a;
  node.b = b;
  node.c = c;
  node.s0 = node.s1 = node.s2 = null;
  node.n0 = node.n1 = node.n2 = node.n3 = 0;
  node.dims.length = 0;
  out.requiresGrad = true;
  out.gradFn = node;
  return node;
}

/**
 * The gradient buffer of t, allocated zeroed on first use. Leaves (parameters and user tensors)
 * get long-lived storage so their gradients survive the step scope and accumulate across calls.
 */
export function gradOf(t: Tensor): Tensor {
  if (t.grad) return t.grad;
  const dev = t.device;
  const g = t.gradFn === null ? dev.heapScope(() => empty(dev, t.shape)) : empty(dev, t.shape);
  dev.kernels.fill(g.ptr, g.size, 0);
  t.grad = g;
  return g;
}

let visitMark = 0;
const order: Node[] = [];
const stack: Node[] = [];

/**
 * Back-propagates from `out`. A scalar output gets gradient 1; otherwise pass `gradOutput` of the
 * same shape. Leaf gradients accumulate; the graph is released afterwards.
 */
export function backward(out: Tensor, gradOutput?: Tensor): void {
  if (!out.requiresGrad || !out.gradFn) {
    throw new Error(
      'backward(): this tensor does not depend on anything that requires a gradient ' +
        '(create parameters with requiresGrad, and do not compute the loss inside noGrad)',
    );
  }
  const dev = out.device;
  const g = gradOf(out);
  if (gradOutput) {
    if (!sameShape(gradOutput.shape, out.shape)) {
      throw new Error(`backward(): gradOutput shape ${formatShape(gradOutput.shape)} differs from the output's ${formatShape(out.shape)}`);
    }
    dev.kernels.copyStrided(gradOutput.ptr, gradOutput.strides, g.ptr, g.strides, g.shape, true);
  } else {
    if (out.size !== 1) {
      throw new Error(`backward(): the output has shape ${formatShape(out.shape)}; pass gradOutput, or reduce it to a scalar (e.g. mean) first`);
    }
    dev.kernels.fill(g.ptr, 1, 1);
  }

  // Iterative DFS post-order; reversed post-order is a topological order.
  const mark = ++visitMark;
  order.length = 0;
  stack.length = 0;
  const root = out.gradFn as Node;
  root.visited = mark;
  stack.push(root);
  const childIndex: number[] = [0];
  while (stack.length > 0) {
    const node = stack[stack.length - 1]!;
    const i = childIndex[stack.length - 1]!;
    const input = i === 0 ? node.a : i === 1 ? node.b : i === 2 ? node.c : undefined;
    if (input === undefined) {
      order.push(node);
      stack.pop();
      childIndex.pop();
      continue;
    }
    childIndex[stack.length - 1] = i + 1;
    const child = input?.gradFn as Node | null | undefined;
    if (child && child.visited !== mark) {
      child.visited = mark;
      stack.push(child);
      childIndex.push(0);
    }
  }

  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    if (node.out.grad) node.fn(node);
  }
  // Release the graph: intermediate gradients and the references keeping activations alive.
  for (let i = 0; i < order.length; i++) {
    const node = order[i]!;
    node.out.grad = null;
    node.out.gradFn = null;
    clearNode(node);
  }
  order.length = 0;
}
