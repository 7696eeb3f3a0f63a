// Fused layer ops: embedding lookup, layerNorm, rmsNorm, rotary embeddings, softmax and
// softmax-cross-entropy. Each is one kernel forward and one kernel backward, so autograd overhead
// stays per layer, not per element.

import { gradOf, record, type Node } from '../autograd/tape.ts';
import { ReduceOp } from '../backend/kernels.ts';
import { empty, formatShape, type Tensor } from '../tensor/tensor.ts';
import { expectDtype, sameDevice } from './check.ts';
import { contiguous } from './views.ts';

const shapeOut: number[] = [];

/** Rows of `table` (V, C) picked by int32 `ids` of any shape → (...ids.shape, C). */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const dev = sameDevice('embedding', table, ids);
  expectDtype('embedding', ids, 'int32', 'ids');
  if (table.ndim !== 2) throw new Error(`embedding: table must be (vocab, dim), got ${formatShape(table.shape)}`);
  const vocab = table.shape[0]!;
  const dim = table.shape[1]!;
  const idx = contiguous(ids);
  const view = idx.unsafeView();
  for (let i = 0; i < view.length; i++) {
    const id = view[i]!;
    if (id < 0 || id >= vocab) {
      throw new Error(`embedding: id ${id} at position ${i} is outside the table's ${vocab} rows (ids shape ${formatShape(ids.shape)})`);
    }
  }
  const w = contiguous(table);
  shapeOut.length = 0;
  for (let i = 0; i < idx.ndim; i++) shapeOut.push(idx.shape[i]!);
  shapeOut.push(dim);
  const out = empty(dev, shapeOut);
  dev.kernels.embeddingForward(w.ptr, idx.ptr, out.ptr, idx.size, dim);
  const node = record(embeddingBackward, out, w);
  if (node) node.s0 = idx;
  return out;
}

function embeddingBackward(node: Node): void {
  const g = node.out.grad!;
  const ids = node.s0!;
  const dim = node.a!.shape[1]!;
  node.out.device.kernels.embeddingBackward(ids.ptr, g.ptr, gradOf(node.a!).ptr, ids.size, dim);
}

/** Normalises over the last dimension: (x − mean) / sqrt(var + eps) · gamma + beta. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const dev = sameDevice('layerNorm', x, gamma);
  sameDevice('layerNorm', x, beta);
  expectDtype('layerNorm', x, 'float32', 'the input');
  const dim = x.shape[x.ndim - 1]!;
  if (gamma.size !== dim || beta.size !== dim) {
    throw new Error(`layerNorm: gamma ${formatShape(gamma.shape)} and beta ${formatShape(beta.shape)} must have ${dim} elements to match input ${formatShape(x.shape)}`);
  }
  const src = contiguous(x);
  const rows = src.size / dim;
  const out = empty(dev, src.shape);
  const mean = empty(dev, [rows]);
  const rstd = empty(dev, [rows]);
  const g = contiguous(gamma);
  const b = contiguous(beta);
  dev.kernels.layerNormForward(src.ptr, g.ptr, b.ptr, out.ptr, mean.ptr, rstd.ptr, rows, dim, eps);
  const node = record(layerNormBackward, out, src, g, b);
  if (node) {
    node.s0 = mean;
    node.s1 = rstd;
  }
  return out;
}

function layerNormBackward(node: Node): void {
  const x = node.a!;
  const gamma = node.b!;
  const beta = node.c!;
  const g = node.out.grad!;
  const dim = gamma.size;
  // The kernel writes all three gradients at once; unneeded ones go to a scratch buffer.
  const gx = x.requiresGrad ? gradOf(x) : empty(x.device, x.shape);
  const gg = gamma.requiresGrad ? gradOf(gamma) : empty(x.device, gamma.shape);
  const gb = beta.requiresGrad ? gradOf(beta) : empty(x.device, beta.shape);
  const k = x.device.kernels;
  if (!x.requiresGrad) k.fill(gx.ptr, gx.size, 0);
  if (!gamma.requiresGrad) k.fill(gg.ptr, gg.size, 0);
  if (!beta.requiresGrad) k.fill(gb.ptr, gb.size, 0);
  k.layerNormBackward(x.ptr, gamma.ptr, node.s0!.ptr, node.s1!.ptr, g.ptr, gx.ptr, gg.ptr, gb.ptr, x.size / dim, dim);
}

/** Normalises over the last dimension by the root mean square: x / sqrt(mean(x²) + eps) · gamma. */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6): Tensor {
  const dev = sameDevice('rmsNorm', x, gamma);
  expectDtype('rmsNorm', x, 'float32', 'the input');
  const dim = x.shape[x.ndim - 1]!;
  if (gamma.size !== dim) throw new Error(`rmsNorm: gamma ${formatShape(gamma.shape)} must have ${dim} elements to match input ${formatShape(x.shape)}`);
  const src = contiguous(x);
  const rows = src.size / dim;
  const out = empty(dev, src.shape);
  const rstd = empty(dev, [rows]);
  const g = contiguous(gamma);
  dev.kernels.rmsNormForward(src.ptr, g.ptr, out.ptr, rstd.ptr, rows, dim, eps);
  const node = record(rmsNormBackward, out, src, g);
  if (node) node.s0 = rstd;
  return out;
}

function rmsNormBackward(node: Node): void {
  const x = node.a!;
  const gamma = node.b!;
  const g = node.out.grad!;
  const dim = gamma.size;
  const rows = x.size / dim;
  const k = x.device.kernels;
  if (x.requiresGrad) k.rmsNormBackward(x.ptr, gamma.ptr, node.s0!.ptr, g.ptr, gradOf(x).ptr, rows, dim);
  if (gamma.requiresGrad) k.rmsNormGammaBackward(x.ptr, node.s0!.ptr, g.ptr, gradOf(gamma).ptr, rows, dim);
}

/**
 * Rotary position embedding, rotate-half convention (HF Llama/Mistral/Qwen): x is (B, T, H, D);
 * position t of the sequence is offset + t (the KV cache's length when decoding), and cos/sin
 * are (positions, D/2) tables of cos(pos · inv_freq[c]) and sin(pos · inv_freq[c]). The tables are
 * constants: no gradient flows into them.
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, offset = 0): Tensor {
  const dev = sameDevice('rope', x, cos);
  sameDevice('rope', x, sin);
  expectDtype('rope', x, 'float32', 'the input');
  if (x.ndim !== 4) throw new Error(`rope: input must be (batch, time, heads, headDim), got ${formatShape(x.shape)}`);
  const [b, t, h, d] = x.shape as [number, number, number, number];
  if (d % 2 !== 0) throw new Error(`rope: the head dimension must be even, got ${d}`);
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`rope: offset must be a non-negative integer, got ${offset}`);
  for (const [tab, name] of [[cos, 'cos'], [sin, 'sin']] as const) {
    if (tab.ndim !== 2 || tab.shape[1] !== d / 2 || tab.shape[0]! < offset + t) {
      throw new Error(`rope: the ${name} table ${formatShape(tab.shape)} must be (≥ ${offset + t} positions, ${d / 2}) for ${t} positions from ${offset} with head dimension ${d}`);
    }
  }
  const src = contiguous(x);
  const c = contiguous(cos);
  const s = contiguous(sin);
  const out = empty(dev, src.shape);
  dev.kernels.ropeForward(src.ptr, c.ptr, s.ptr, out.ptr, b * t, t, h, d, offset);
  const node = record(ropeBackward, out, src);
  if (node) {
    node.s0 = c;
    node.s1 = s;
    node.n0 = offset;
  }
  return out;
}

function ropeBackward(node: Node): void {
  const x = node.a!;
  const [b, t, h, d] = x.shape as [number, number, number, number];
  const g = node.out.grad!;
  x.device.kernels.ropeBackward(g.ptr, node.s0!.ptr, node.s1!.ptr, gradOf(x).ptr, b * t, t, h, d, node.n0);
}

/** Softmax over the last dimension. */
export function softmax(x: Tensor): Tensor {
  expectDtype('softmax', x, 'float32', 'the input');
  const src = contiguous(x);
  const dim = src.shape[src.ndim - 1]!;
  const out = empty(src.device, src.shape);
  src.device.kernels.softmaxForward(src.ptr, out.ptr, src.size / dim, dim);
  record(softmaxBackward, out, src);
  return out;
}

function softmaxBackward(node: Node): void {
  const y = node.out;
  const g = y.grad!;
  const dim = y.shape[y.ndim - 1]!;
  y.device.kernels.softmaxBackward(y.ptr, g.ptr, gradOf(node.a!).ptr, y.size / dim, dim);
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default -100, as PyTorch). */
  ignoreIndex?: number;
}

/**
 * Mean cross-entropy of softmax(logits) over the last dimension against int32 targets, fused so
 * the probabilities are never stored: logits (..., V), targets (...) → scalar. Rows whose target
 * is ignoreIndex count neither in the sum nor in the mean.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const dev = sameDevice('crossEntropy', logits, targets);
  expectDtype('crossEntropy', logits, 'float32', 'logits');
  expectDtype('crossEntropy', targets, 'int32', 'targets');
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const vocab = logits.shape[logits.ndim - 1]!;
  const rows = logits.size / vocab;
  if (targets.size !== rows) {
    throw new Error(`crossEntropy: logits ${formatShape(logits.shape)} need ${rows} targets, got ${formatShape(targets.shape)}`);
  }
  const x = contiguous(logits);
  const t = contiguous(targets);
  const tv = t.unsafeView();
  let counted = 0;
  for (let i = 0; i < tv.length; i++) {
    const id = tv[i]!;
    if (id === ignoreIndex) continue;
    if (id < 0 || id >= vocab) {
      throw new Error(`crossEntropy: target ${id} at position ${i} is outside [0, ${vocab}) and is not ignoreIndex (${ignoreIndex})`);
    }
    counted++;
  }
  const losses = empty(dev, [rows]);
  const lse = empty(dev, [rows]);
  dev.kernels.crossEntropyForward(x.ptr, t.ptr, losses.ptr, lse.ptr, rows, vocab, ignoreIndex);
  const out = empty(dev, []);
  dev.kernels.reduce(ReduceOp.Sum, losses.ptr, out.ptr, 0, 1, rows, 1);
  // With every row ignored the mean is 0/0; PyTorch returns NaN, which the trainer's guard catches.
  dev.kernels.affine(out.ptr, out.ptr, 1, counted > 0 ? 1 / counted : NaN, 0);
  const node = record(crossEntropyBackward, out, x, t);
  if (node) {
    node.s0 = lse;
    node.n0 = ignoreIndex;
    node.n1 = counted;
  }
  return out;
}

function crossEntropyBackward(node: Node): void {
  const x = node.a!;
  const t = node.b!;
  const dev = x.device;
  const vocab = x.shape[x.ndim - 1]!;
  if (node.n1 === 0) return;
  dev.refreshViews();
  const g = dev.f32[node.out.grad!.ptr]!;
  dev.kernels.crossEntropyBackward(x.ptr, t.ptr, node.s0!.ptr, gradOf(x).ptr, x.size / vocab, vocab, node.n0, g / node.n1);
}
