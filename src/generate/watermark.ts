// A watermark for generated text (Kirchenbauer et al. 2023, "A Watermark for Large Language
// Models"): before each token is sampled, a pseudo-random "green" share γ of the vocabulary,
// chosen by a hash of a secret key and the previous token, gets δ added to its logits. Text written
// with the watermark then holds more green tokens than chance allows; anyone with the key (and no
// model) can count them and compute a z-score. Human text has no reason to prefer green tokens:
// its green count follows a binomial with mean γT.
//
// Green membership is a hash of (key, previous token, token) compared with γ, rather than a
// permutation of the vocabulary per previous token: membership costs O(1) to test, detection needs
// neither the model nor the vocabulary size, and for distinct (previous, token) pairs the null
// distribution is exactly Bernoulli(γ) per token.

import { mix32 } from '../backend/rng.ts';

export interface WatermarkOptions {
  /** Share of the vocabulary that is green at each step (0 < γ < 1; default 0.25). */
  gamma?: number;
  /** Logit bias added to green tokens (default 2). */
  delta?: number;
  /** Secret key; detection needs the same key (default 15485863, the paper's hash key). */
  key?: number;
}

export interface WatermarkParams {
  gamma: number;
  delta: number;
  key: number;
}

export const DEFAULT_WATERMARK: WatermarkParams = { gamma: 0.25, delta: 2, key: 15485863 };

/** Validated parameters with defaults filled in. */
export function watermarkParams(o: WatermarkOptions = {}): WatermarkParams {
  const p = { ...DEFAULT_WATERMARK, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as WatermarkParams;
  if (!(p.gamma > 0 && p.gamma < 1)) throw new Error(`watermark gamma must be in (0, 1), got ${o.gamma}; 0.25 is the usual choice`);
  if (!(p.delta >= 0) || !Number.isFinite(p.delta)) throw new Error(`watermark delta must be a finite number >= 0, got ${o.delta}; 2 is the usual choice`);
  if (!Number.isInteger(p.key) || p.key < 0 || p.key > 0xffffffff) throw new Error(`watermark key must be an integer in [0, 2^32), got ${o.key}`);
  return p;
}

export class Watermark {
  readonly params: WatermarkParams;
  private readonly threshold: number;

  constructor(opts: WatermarkOptions = {}) {
    this.params = watermarkParams(opts);
    this.threshold = Math.floor(this.params.gamma * 4294967296);
  }

  /** Whether `id` is green after `prev`. */
  isGreen(prev: number, id: number): boolean {
    const seed = mix32((this.params.key ^ mix32((prev >>> 0) + 0x9e3779b9)) >>> 0);
    return mix32((seed ^ Math.imul(id >>> 0, 0x85ebca6b)) >>> 0) < this.threshold;
  }

  /** logprobs + δ on the green list after `prev`, written into out (unnormalised log-weights). */
  bias(logprobs: Float64Array, prev: number, out: Float64Array): Float64Array {
    const seed = mix32((this.params.key ^ mix32((prev >>> 0) + 0x9e3779b9)) >>> 0);
    const d = this.params.delta;
    for (let i = 0; i < logprobs.length; i++) {
      out[i] = mix32((seed ^ Math.imul(i, 0x85ebca6b)) >>> 0) < this.threshold ? logprobs[i]! + d : logprobs[i]!;
    }
    return out;
  }
}

export interface Detection {
  /** Tokens scored (each needs a previous token; with ignoreRepeats, distinct pairs only). */
  scored: number;
  green: number;
  gamma: number;
  z: number;
  /** One-sided p-value of the z-score (normal approximation, as in the paper). */
  pValue: number;
  /** Exact one-sided p-value: P(at least `green` of `scored` Bernoulli(γ) trials); matters for short texts. */
  pExact: number;
  /** z above the threshold. */
  flagged: boolean;
  threshold: number;
  /** Green or not per token position (null when not scored: first token or a repeated pair). */
  perToken: (boolean | null)[];
}

export interface DetectOptions extends WatermarkOptions {
  /** z above which text is flagged as watermarked (default 4, as in the paper). */
  threshold?: number;
  /**
   * Count each (previous, token) pair once (default true). A repeated pair always has the same
   * colour, so counting repeats would let repetitive human text reach a high z by chance.
   */
  ignoreRepeats?: boolean;
}

/** Detects the watermark in a sequence of token ids (the first id only serves as context). */
export function detectWatermark(ids: readonly number[], opts: DetectOptions = {}): Detection {
  const wm = new Watermark(opts);
  const threshold = opts.threshold ?? 4;
  const ignoreRepeats = opts.ignoreRepeats ?? true;
  const seen = new Set<string>();
  const perToken: (boolean | null)[] = [null];
  let scored = 0;
  let green = 0;
  for (let i = 1; i < ids.length; i++) {
    const key = `${ids[i - 1]},${ids[i]}`;
    if (ignoreRepeats && seen.has(key)) {
      perToken.push(null);
      continue;
    }
    seen.add(key);
    const g = wm.isGreen(ids[i - 1]!, ids[i]!);
    perToken.push(g);
    scored++;
    if (g) green++;
  }
  const gamma = wm.params.gamma;
  const z = scored > 0 ? (green - gamma * scored) / Math.sqrt(scored * gamma * (1 - gamma)) : 0;
  return { scored, green, gamma, z, pValue: scored > 0 ? normalUpperTail(z) : 1, pExact: binomialUpperTail(scored, green, gamma), flagged: scored > 0 && z > threshold, threshold, perToken: ids.length > 0 ? perToken : [] };
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed in log space from the k-th term up. */
export function binomialUpperTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let logTerm = k * Math.log(p) + (n - k) * Math.log1p(-p);
  for (let i = 0; i < k; i++) logTerm += Math.log((n - i) / (i + 1)); // log C(n, k)
  let sum = 0;
  const ratio = p / (1 - p);
  for (let j = k; j <= n; j++) {
    const term = Math.exp(logTerm);
    sum += term;
    if (term < sum * 1e-17) break;
    logTerm += Math.log(((n - j) / (j + 1)) * ratio);
  }
  return Math.min(1, sum);
}

/**
 * P(Z > z) for a standard normal, accurate to about 1e-7 relative in both tails: erfc by the
 * Chebyshev fit of Press et al. (Numerical Recipes, erfcc), so p-values of z = 10 (≈ 7.6e-24) are
 * not lost to cancellation as 1 - Φ(z) would be.
 */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-x * x + poly);
  return x >= 0 ? r : 2 - r;
}
