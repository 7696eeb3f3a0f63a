// AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient, applied to
// matrices only (biases and LayerNorm parameters are not decayed). Runs as one kernel per group
// over the flat parameter block.

import { FlatParameters } from '../nn/flat-parameters.ts';
import { markWritten, type Tensor } from '../tensor/tensor.ts';

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  readonly flat: FlatParameters;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken (bias correction uses it). */
  step = 0;

  constructor(params: readonly Tensor[], opts: AdamWOptions = {}) {
    this.flat = new FlatParameters(params.filter((p) => p.requiresGrad));
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  zeroGrad(): void {
    this.flat.zeroGrad();
  }

  /** Applies one update with the gradients currently accumulated. */
  update(): void {
    this.step++;
    const f = this.flat;
    const bc1 = 1 - this.beta1 ** this.step;
    const bc2 = 1 - this.beta2 ** this.step;
    const k = f.device.kernels;
    for (const [group, wd] of [[f.decay, this.weightDecay], [f.noDecay, 0]] as const) {
      if (group.size === 0) continue;
      const o = group.offset;
      k.adamw(f.paramsPtr + o, f.gradsPtr + o, f.mPtr + o, f.vPtr + o, group.size, this.lr, this.beta1, this.beta2, this.eps, wd, bc1, bc2);
    }
    markWritten(f.storage);
  }
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm; returns the norm before clipping
 * (non-finite when a gradient is NaN/Inf — the trainer's spike guard checks this).
 */
export function clipGradNorm(flat: FlatParameters, maxNorm: number): number {
  const norm = flat.gradNorm();
  if (Number.isFinite(norm) && norm > maxNorm) flat.scaleGrads(maxNorm / (norm + 1e-6));
  return norm;
}

export interface CosineSchedule {
  maxLr: number;
  minLr: number;
  warmup: number;
  /** Steps at which the cosine reaches minLr (Infinity: only totalSeconds ends it). */
  totalSteps: number;
  /** Count the cosine's progress from step 0, not from the end of warmup (translation's schedule). */
  decayFromStart?: boolean;
  /** A time budget: the cosine also reaches minLr once elapsedSeconds does, whichever comes first. */
  totalSeconds?: number;
  elapsedSeconds?: number;
}

/**
 * Linear warmup to maxLr, then cosine decay to minLr at totalSteps or totalSeconds (step counts
 * from 0).
 */
export function cosineLr(step: number, opts: CosineSchedule): number {
  if (step < opts.warmup) return (opts.maxLr * (step + 1)) / opts.warmup;
  if (step >= opts.totalSteps) return opts.minLr;
  const from = opts.decayFromStart ? 0 : opts.warmup;
  const bySteps = Number.isFinite(opts.totalSteps) ? (step - from) / Math.max(1, opts.totalSteps - from) : 0;
  const byTime = opts.totalSeconds ? (opts.elapsedSeconds ?? 0) / opts.totalSeconds : 0;
  const ratio = Math.min(1, Math.max(bySteps, byTime));
  return opts.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (opts.maxLr - opts.minLr);
}
