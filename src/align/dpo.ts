// Direct Preference Optimization (Rafailov et al. 2023): with Δ = log π(y|x) − log π_ref(y|x),
// the sigmoid loss is −log σ(β (Δ_chosen − Δ_rejected)), averaged over pairs. The reference's
// log-probabilities are computed once, before training: with LoRA the reference is the base model
// with adapters detached (the same weights, no second copy); for full fine-tuning it is the model
// before its first update, so no copy is needed either.
//
// Logged per step (TRL's names): loss, rewards/chosen = β·Δ_chosen, rewards/rejected,
// rewards/margins, rewards/accuracies (share of pairs with chosen reward > rejected), and
// logps/chosen, logps/rejected (summed log-probabilities), which show a collapse of the chosen
// log-probabilities — DPO can widen the margin by pushing both completions down. The optional
// `sftWeight` adds the chosen completions' mean token NLL (as RPO, Pang et al. 2024) against it.

import { forwardFlopsPerToken, trainStepFlops } from '../models/flops.ts';
import type { CausalLm } from '../generate/generate.ts';
import type { DecoderConfig } from '../models/flops.ts';
import { attachAdapter, type LoraAdapter } from '../nn/lora.ts';
import { backwardThroughScalars, batchLogprobs, batchLogprobsNoGrad, logSigmoid, sigmoid } from './logprobs.ts';
import { runPairLoop, type LoopEvent, type LoopResult, type LoopStep, type PairLoopOptions, type StepOutcome } from './pair-loop.ts';
import { pairBatch, type TokenizedPair } from './preferences.ts';

export interface DpoLossOptions {
  /** Strength of the KL constraint to the reference (default 0.1). */
  beta: number;
  /** Conservative DPO (cDPO): the share of labels assumed flipped (default 0). */
  labelSmoothing?: number;
  /** Weight of the chosen completions' mean token NLL (default 0). */
  sftWeight?: number;
}

export interface DpoLossResult {
  loss: number;
  /** ∂loss/∂(log π of each chosen / rejected completion). */
  gradChosen: Float64Array;
  gradRejected: Float64Array;
  metrics: DpoMetrics;
}

export interface DpoMetrics {
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/margins': number;
  'rewards/accuracies': number;
  'logps/chosen': number;
  'logps/rejected': number;
  /** Mean per-token change of the chosen log-probability against the reference (nats/token). */
  'logps/chosen_delta_per_token': number;
}

/**
 * The DPO loss of a batch and its derivatives with respect to the policy's sequence
 * log-probabilities (float64, stable for any margin).
 */
export function dpoLoss(
  policy: { chosen: ArrayLike<number>; rejected: ArrayLike<number> },
  reference: { chosen: ArrayLike<number>; rejected: ArrayLike<number> },
  o: DpoLossOptions & { chosenTokens?: ArrayLike<number> },
): DpoLossResult {
  const B = policy.chosen.length;
  if (B === 0 || policy.rejected.length !== B || reference.chosen.length !== B || reference.rejected.length !== B) {
    throw new Error(`dpoLoss: expected equally many chosen and rejected log-probabilities (policy ${policy.chosen.length}/${policy.rejected.length}, reference ${reference.chosen.length}/${reference.rejected.length})`);
  }
  const beta = o.beta;
  const eps = o.labelSmoothing ?? 0;
  const sft = o.sftWeight ?? 0;
  if (!(beta > 0)) throw new Error(`DPO: beta must be positive, got ${beta}`);
  if (!(eps >= 0 && eps < 0.5)) throw new Error(`DPO: label smoothing must be in [0, 0.5), got ${eps}`);
  const gradChosen = new Float64Array(B);
  const gradRejected = new Float64Array(B);
  let loss = 0;
  let rc = 0;
  let rr = 0;
  let acc = 0;
  let lc = 0;
  let lr = 0;
  let deltaPerToken = 0;
  for (let i = 0; i < B; i++) {
    const dc = policy.chosen[i]! - reference.chosen[i]!;
    const dr = policy.rejected[i]! - reference.rejected[i]!;
    const z = beta * (dc - dr);
    loss += -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
    // d/dz [−(1−ε) log σ(z) − ε log σ(−z)] = −(1−ε) σ(−z) + ε σ(z)
    const dz = (-(1 - eps) * sigmoid(-z) + eps * sigmoid(z)) / B;
    gradChosen[i] = beta * dz;
    gradRejected[i] = -beta * dz;
    const n = o.chosenTokens ? o.chosenTokens[i]! : 1;
    if (sft > 0) {
      loss += (sft * -policy.chosen[i]!) / n;
      gradChosen[i]! -= sft / (B * n);
    }
    rc += beta * dc;
    rr += beta * dr;
    if (dc > dr) acc++;
    lc += policy.chosen[i]!;
    lr += policy.rejected[i]!;
    deltaPerToken += dc / n;
  }
  return {
    loss: loss / B,
    gradChosen,
    gradRejected,
    metrics: {
      'rewards/chosen': rc / B,
      'rewards/rejected': rr / B,
      'rewards/margins': (rc - rr) / B,
      'rewards/accuracies': acc / B,
      'logps/chosen': lc / B,
      'logps/rejected': lr / B,
      'logps/chosen_delta_per_token': deltaPerToken / B,
    },
  };
}

/** A tokenized pair with its reference log-probabilities. */
export interface ReferencedPair extends TokenizedPair {
  refChosen: number;
  refRejected: number;
}

/**
 * Reference log-probabilities of every pair, computed once in evaluation mode. With an adapter,
 * it is detached for this (the reference is the base model) and re-attached afterwards.
 */
export function referenceLogprobs(model: CausalLm, pairs: readonly TokenizedPair[], o: { adapter: LoraAdapter | null; batchSize?: number; pad: number }): ReferencedPair[] {
  const bs = o.batchSize ?? 8;
  const out: ReferencedPair[] = [];
  if (o.adapter) attachAdapter(model, null);
  try {
    for (let i = 0; i < pairs.length; i += bs) {
      const chunk = pairs.slice(i, i + bs);
      const values = batchLogprobsNoGrad(model, pairBatch(chunk, o.pad));
      chunk.forEach((p, j) => out.push({ ...p, refChosen: values[j]!, refRejected: values[chunk.length + j]! }));
    }
  } finally {
    if (o.adapter) attachAdapter(model, o.adapter);
  }
  return out;
}

/** Forward FLOPs of the reference pass over `pairs` (batches as referenceLogprobs makes them). */
export function referenceFlops(config: DecoderConfig, pairs: readonly TokenizedPair[], pad: number, batchSize = 8): number {
  let flops = 0;
  for (let i = 0; i < pairs.length; i += batchSize) {
    const pb = pairBatch(pairs.slice(i, i + batchSize), pad);
    flops += 2 * pb.pairs * pb.width * forwardFlopsPerToken(config, pb.width);
  }
  return flops;
}

/** How a DPO run's training FLOPs (steps + referenceFlops) are counted, for its run record. */
export function dpoFlopsMethod(lora: boolean): string {
  return `counted from the model shapes (src/models/flops.ts): every training step's forward + backward over its padded pair batch (${lora ? 'LoRA: frozen matmuls 2× forward, attention 3×, the adapter 3×' : '3× forward'}), plus the reference model's forward pass over every pair once (training.referenceFlops); evaluation passes not counted`;
}

export interface DpoTrainOptions extends DpoLossOptions {
  model: CausalLm;
  /** LoRA adapter being trained (attached to the model); null trains the whole model. */
  adapter: LoraAdapter | null;
  train: readonly ReferencedPair[];
  val?: readonly ReferencedPair[];
  steps: number;
  batchSize: number;
  lr: number;
  warmup?: number;
  weightDecay?: number;
  seed: number;
  pad: number;
  logFile: string | null;
  evalEvery?: number;
  /**
   * A chosen log-probability that falls this many nats per token below the reference (batch mean)
   * is reported as a collapse (default 1; 0 turns the check off).
   */
  collapseNatsPerToken?: number;
  runStep?: <T>(fn: () => T) => Promise<T>;
  progress?: PairLoopOptions<ReferencedPair>['progress'];
  onStep?: (m: LoopStep) => void;
  onEvent?: (e: LoopEvent) => void;
  signal?: AbortSignal;
}

/** Evaluation-mode DPO metrics of pairs (no gradients). */
export function dpoEvaluate(model: CausalLm, pairs: readonly ReferencedPair[], o: DpoLossOptions & { pad: number; batchSize?: number }): Record<string, number> {
  const bs = o.batchSize ?? 8;
  const policy = { chosen: [] as number[], rejected: [] as number[] };
  for (let i = 0; i < pairs.length; i += bs) {
    const chunk = pairs.slice(i, i + bs);
    const v = batchLogprobsNoGrad(model, pairBatch(chunk, o.pad));
    chunk.forEach((_, j) => {
      policy.chosen.push(v[j]!);
      policy.rejected.push(v[chunk.length + j]!);
    });
  }
  const r = dpoLoss(policy, { chosen: pairs.map((p) => p.refChosen), rejected: pairs.map((p) => p.refRejected) }, { ...o, chosenTokens: pairs.map((p) => p.chosen.length) });
  return { loss: r.loss, ...r.metrics };
}

/** Trains the policy with DPO on pairs whose reference log-probabilities are known. */
export async function trainDpo(o: DpoTrainOptions): Promise<LoopResult> {
  const { model, adapter } = o;
  const collapse = o.collapseNatsPerToken ?? 1;
  const lossOpts: DpoLossOptions = { beta: o.beta, labelSmoothing: o.labelSmoothing ?? 0, sftWeight: o.sftWeight ?? 0 };
  const params = adapter ? adapter.parameters() : model.parameters();
  const step = (batch: readonly ReferencedPair[], stepIndex: number): StepOutcome => {
    // Another adapter may have been attached between steps (a server interleaves requests).
    attachAdapter(model, adapter);
    const pb = pairBatch(batch, o.pad);
    const B = batch.length;
    const r = model.device.scope(() => {
      const lp = batchLogprobs(model, pb);
      const res = dpoLoss(
        { chosen: lp.values.subarray(0, B), rejected: lp.values.subarray(B) },
        { chosen: batch.map((p) => p.refChosen), rejected: batch.map((p) => p.refRejected) },
        { ...lossOpts, chosenTokens: batch.map((p) => p.chosen.length) },
      );
      if (Number.isFinite(res.loss)) backwardThroughScalars(lp.tensors, [...res.gradChosen, ...res.gradRejected]);
      return res;
    });
    const warnings: StepOutcome['warnings'] = [];
    const drop = r.metrics['logps/chosen_delta_per_token'];
    if (collapse > 0 && drop < -collapse) {
      warnings.push({
        kind: 'chosen-collapse',
        message: `chosen completions are ${(-drop).toFixed(2)} nats/token less likely than under the reference at step ${stepIndex + 1}: DPO is widening the margin by pushing the chosen completions down too; lower --lr, raise --beta, or add --sft-weight 0.5`,
      });
    }
    // Float32 log-probabilities of identical weights agree to the last bit: any change is movement.
    const idle = r.metrics['rewards/chosen'] === 0 && r.metrics['rewards/rejected'] === 0;
    const flops = trainStepFlops(model.config, 2 * B, pb.width, adapter ? adapter.numParameters() : null);
    return { loss: r.loss, metrics: { ...r.metrics }, warnings, idle, flops, tokens: 2 * B * pb.width };
  };
  return runPairLoop<ReferencedPair>({
    model,
    parameters: params,
    train: o.train,
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
    weightDecay: o.weightDecay ?? 0,
    seed: o.seed,
    step,
    ...(o.val && o.val.length > 0 ? { evaluate: () => (attachAdapter(model, adapter), dpoEvaluate(model, o.val!, { ...lossOpts, pad: o.pad })) } : {}),
    ...(o.evalEvery !== undefined ? { evalEvery: o.evalEvery } : {}),
    logFile: o.logFile,
    ...(o.runStep ? { runStep: o.runStep } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}
