// Sequence log-probabilities, log π(completion | prompt) = Σ over completion tokens of
// log p(token | everything before it), built from existing ops: the fused cross-entropy of one row
// (prompt and padding targets are ignore-index) is the mean negative log-likelihood of that row's
// completion tokens, so −count × it is the row's summed log-probability, with exact gradients.
//
// Preference losses (DPO, Bradley–Terry) are functions of a handful of such scalars. Their value
// and their derivative with respect to each scalar are computed in float64 here, and the gradient
// reaches the model through backward() of Σᵢ (∂L/∂sᵢ)·sᵢ — a linear combination of graph tensors
// with constant weights, whose gradient is exactly ∂L/∂θ. That keeps log-sigmoid numerically
// stable without a new op.

import { backward, noGrad } from '../autograd/tape.ts';
import type { CausalLm } from '../generate/generate.ts';
import { add, scale } from '../ops/elementwise.ts';
import { crossEntropy } from '../ops/layers.ts';
import { slice } from '../ops/views.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import type { PairBatch } from './preferences.ts';

/** Graph scalars and their values (float64). */
export interface ScalarOutputs {
  tensors: Tensor[];
  values: Float64Array;
}

/**
 * Summed completion log-probabilities of each row of a packed batch, as graph scalars (call inside
 * a device scope). Rows with no completion token are refused: their log-probability would be 0/0.
 */
export function rowLogprobs(logits: Tensor, targets: Tensor, counts: readonly number[]): ScalarOutputs {
  const rows = logits.shape[0]!;
  const tensors: Tensor[] = [];
  const values = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const n = counts[r]!;
    if (!(n > 0)) throw new Error(`row ${r} has no completion tokens to score; every completion needs at least one token`);
    const nll = crossEntropy(slice(logits, 0, r, r + 1), slice(targets, 0, r, r + 1)); // mean over the row's completion tokens
    const lp = scale(nll, -n);
    tensors.push(lp);
    values[r] = lp.item();
  }
  return { tensors, values };
}

/** The model's forward pass on a packed batch and the summed completion log-probability of each row. */
export function batchLogprobs(model: CausalLm, batch: Pick<PairBatch, 'ids' | 'targets' | 'width' | 'counts'>): ScalarOutputs {
  const dev = model.device;
  const rows = batch.counts.length;
  const ids = empty(dev, [rows, batch.width], 'int32').set(batch.ids);
  const targets = empty(dev, [rows, batch.width], 'int32').set(batch.targets);
  const { logits } = model.forward(ids);
  return rowLogprobs(logits, targets, batch.counts);
}

/** Values only, without recording a graph, in evaluation mode (reference log-probabilities). */
export function batchLogprobsNoGrad(model: CausalLm, batch: Pick<PairBatch, 'ids' | 'targets' | 'width' | 'counts'>): Float64Array {
  const wasTraining = model.training;
  model.eval();
  try {
    return model.device.scope(() => noGrad(() => batchLogprobs(model, batch).values));
  } finally {
    model.train(wasTraining);
  }
}

/**
 * Back-propagates a loss L(s₁…sₙ) of graph scalars given ∂L/∂sᵢ: runs backward() on Σ wᵢ·sᵢ.
 * Scalars with weight 0 are left out; if all are 0 nothing is recorded.
 */
export function backwardThroughScalars(scalars: readonly Tensor[], weights: ArrayLike<number>): void {
  let total: Tensor | null = null;
  for (let i = 0; i < scalars.length; i++) {
    const w = weights[i]!;
    if (w === 0) continue;
    if (!Number.isFinite(w)) throw new Error(`the loss's derivative for scalar ${i} is ${w}; the preference loss is not finite`);
    const term = scale(scalars[i]!, w);
    total = total ? add(total, term) : term;
  }
  if (total) backward(total);
}

/** log σ(x), stable for large |x|. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/** σ(x), stable for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
