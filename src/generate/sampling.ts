// Choosing the next token from a row of logits: greedy, temperature, top-k and top-p (nucleus),
// plus the log-probabilities the app and the API show. Log-probabilities are always those of the
// model itself (temperature 1, no truncation), so they say how likely the model found a token
// whatever sampling settings produced it.

import type { Rng } from '../backend/rng.ts';

export interface SamplingOptions {
  /** 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
}

export interface TokenChoice {
  id: number;
  /** Natural log of the model's probability of this token. */
  logprob: number;
}

/** log-softmax of logits into out (float64 for accurate small probabilities). */
export function logSoftmax(logits: ArrayLike<number>, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - lse;
}

/** The k most likely ids with their log-probabilities, most likely first. */
export function topLogprobs(logprobs: Float64Array, k: number): TokenChoice[] {
  if (k <= 0) return [];
  const best: TokenChoice[] = [];
  for (let i = 0; i < logprobs.length; i++) {
    const lp = logprobs[i]!;
    if (best.length < k) {
      best.push({ id: i, logprob: lp });
      if (best.length === k) best.sort((a, b) => b.logprob - a.logprob);
    } else if (lp > best[k - 1]!.logprob) {
      let j = k - 1;
      while (j > 0 && best[j - 1]!.logprob < lp) {
        best[j] = best[j - 1]!;
        j--;
      }
      best[j] = { id: i, logprob: lp };
    }
  }
  if (best.length < k) best.sort((a, b) => b.logprob - a.logprob);
  return best;
}

export function validateSampling(opts: SamplingOptions): void {
  const t = opts.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new Error(`temperature must be a finite number >= 0, got ${opts.temperature}`);
  const k = opts.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new Error(`topK must be an integer >= 0 (0 disables it), got ${opts.topK}`);
  const p = opts.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new Error(`topP must be in (0, 1], got ${opts.topP}`);
}

const order: number[] = [];
let probs = new Float64Array(0);

/** Draws the next id from logprobs (the model's log-softmax) under the sampling options. */
export function sampleFrom(logprobs: Float64Array, opts: SamplingOptions, rng: Rng): number {
  const temperature = opts.temperature ?? 1;
  const V = logprobs.length;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logprobs[i]! > logprobs[best]!) best = i;
    return best;
  }
  if (probs.length < V) probs = new Float64Array(V);
  // Tempered distribution (up to normalisation).
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logprobs[i]! > max) max = logprobs[i]!;
  for (let i = 0; i < V; i++) probs[i] = Math.exp((logprobs[i]! - max) / temperature);
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 1;
  if ((topK > 0 && topK < V) || topP < 1) {
    order.length = V;
    for (let i = 0; i < V; i++) order[i] = i;
    order.sort((a, b) => probs[b]! - probs[a]!);
    let keep = topK > 0 ? Math.min(topK, V) : V;
    if (topP < 1) {
      let total = 0;
      for (let i = 0; i < keep; i++) total += probs[order[i]!]!;
      let acc = 0;
      for (let i = 0; i < keep; i++) {
        acc += probs[order[i]!]!;
        if (acc >= topP * total) {
          keep = i + 1;
          break;
        }
      }
    }
    let total = 0;
    for (let i = 0; i < keep; i++) total += probs[order[i]!]!;
    let u = rng.uniform() * total;
    for (let i = 0; i < keep; i++) {
      u -= probs[order[i]!]!;
      if (u < 0) return order[i]!;
    }
    return order[keep - 1]!;
  }
  let total = 0;
  for (let i = 0; i < V; i++) total += probs[i]!;
  let u = rng.uniform() * total;
  for (let i = 0; i < V; i++) {
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return V - 1;
}
