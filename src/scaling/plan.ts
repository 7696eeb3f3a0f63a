// Choosing a sweep from a compute budget, in the manner of Hoffmann et al.'s IsoFLOP profiles
// (approach 2): a few compute levels a constant factor apart; at each level the ladder shapes whose
// token count D = C / (FLOPs per token) gives a tokens-per-parameter ratio inside a window around
// the compute-optimal ~20, so every level spans under- and over-trained models. The top level is
// scaled until the whole grid costs the budget.

import { configFor, flopsPerToken, LADDER, parameterCounts, shapeName, type Shape } from './shapes.ts';

export interface PlanOptions {
  /** Total training FLOPs of the sweep. */
  budget: number;
  vocabSize: number;
  seqLen: number;
  batch: number;
  /** Compute levels (default 4). */
  levels?: number;
  /** Compute ratio between adjacent levels (default 3). */
  levelFactor?: number;
  /** Tokens-per-parameter window (default [4, 100]). */
  minTokensPerParam?: number;
  maxTokensPerParam?: number;
  /** At most this many shapes per level, those nearest the window's geometric middle (default 4). */
  maxPerLevel?: number;
  /** Runs shorter than this many steps are dropped (default 30). */
  minSteps?: number;
  /** Shapes to choose from (default LADDER). */
  shapes?: readonly Shape[];
}

export interface PlannedRun {
  id: string;
  shape: Shape;
  level: number;
  steps: number;
  tokens: number;
  flops: number;
  params: { total: number; nonEmbedding: number };
}

function runsAt(cMax: number, o: Required<PlanOptions>): PlannedRun[] {
  const out: PlannedRun[] = [];
  const mid = Math.sqrt(o.minTokensPerParam * o.maxTokensPerParam);
  for (let level = 0; level < o.levels; level++) {
    const c = cMax / Math.pow(o.levelFactor, level);
    const candidates: (PlannedRun & { dist: number })[] = [];
    for (const shape of o.shapes) {
      const config = configFor(shape, o.vocabSize, o.seqLen);
      const fpt = flopsPerToken(config, o.seqLen);
      const steps = Math.round(c / fpt / (o.batch * o.seqLen));
      const tokens = steps * o.batch * o.seqLen;
      const params = parameterCounts(config);
      const ratio = tokens / params.total;
      if (steps < o.minSteps || ratio < o.minTokensPerParam || ratio > o.maxTokensPerParam) continue;
      candidates.push({ id: `${shapeName(shape)}-D${tokens}`, shape, level, steps, tokens, flops: fpt * tokens, params, dist: Math.abs(Math.log(ratio / mid)) });
    }
    candidates.sort((a, b) => a.dist - b.dist);
    for (const { dist: _d, ...r } of candidates.slice(0, o.maxPerLevel).sort((a, b) => a.params.total - b.params.total)) out.push(r);
  }
  return out;
}

export function planSweep(opts: PlanOptions): PlannedRun[] {
  const o: Required<PlanOptions> = {
    levels: 4, levelFactor: 3, minTokensPerParam: 4, maxTokensPerParam: 100, maxPerLevel: 4, minSteps: 30, shapes: LADDER,
    ...opts,
  };
  if (!(o.budget > 0 && Number.isFinite(o.budget))) throw new Error(`--budget must be a positive number of FLOPs, got ${o.budget}`);
  if (!(o.levelFactor > 1)) throw new Error(`--level-factor must be above 1, got ${o.levelFactor}`);
  if (!(Number.isInteger(o.levels) && o.levels >= 1)) throw new Error(`--levels must be a positive integer, got ${o.levels}`);
  const cost = (cMax: number): number => runsAt(cMax, o).reduce((a, r) => a + r.flops, 0);
  // The cost grows with cMax (up to rounding and shapes entering or leaving the window), so a
  // bisection in log space finds the largest top level the budget pays for.
  let lo = Math.log(o.budget) - 30;
  let hi = Math.log(o.budget);
  for (let i = 0; i < 60; i++) {
    const m = (lo + hi) / 2;
    if (cost(Math.exp(m)) <= o.budget) lo = m;
    else hi = m;
  }
  const runs = runsAt(Math.exp(lo), o);
  if (runs.length < 5) {
    throw new Error(`a budget of ${o.budget.toExponential(2)} FLOPs buys only ${runs.length} runs with these settings (need at least 5 to fit L(N, D)); raise --budget, or lower --min-steps or --levels`);
  }
  return runs;
}

export interface GridOptions {
  shapes: readonly Shape[];
  /** Training tokens; every shape is trained for each (rounded down to whole steps). */
  tokens: readonly number[];
  vocabSize: number;
  seqLen: number;
  batch: number;
  /** Cells that would cost more than this many FLOPs are left out (default: none). */
  maxRunFlops?: number;
}

/**
 * A plain sizes × token budgets grid. The IsoFLOP planner ties the token count to the compute
 * level, so at small budgets only the narrowest shapes get many tokens; a grid lets every size be
 * trained past the early part of training where loss falls faster than any power law (on SOTU,
 * the first 1–2M tokens at widths up to 64).
 */
export function planGrid(o: GridOptions): PlannedRun[] {
  if (o.shapes.length === 0) throw new Error('a token grid needs --shapes (e.g. --shapes L1-C32,L2-C64 --tokens 2e6,4e6)');
  const out: PlannedRun[] = [];
  const sorted = [...o.tokens].sort((a, b) => a - b);
  for (const shape of o.shapes) {
    const config = configFor(shape, o.vocabSize, o.seqLen);
    const fpt = flopsPerToken(config, o.seqLen);
    const params = parameterCounts(config);
    for (const [level, want] of sorted.entries()) {
      if (!(want > 0 && Number.isFinite(want))) throw new Error(`--tokens must be positive numbers, got ${want}`);
      const steps = Math.floor(want / (o.batch * o.seqLen));
      if (steps < 1) throw new Error(`--tokens ${want} is less than one step of ${o.batch} × ${o.seqLen} tokens`);
      const tokens = steps * o.batch * o.seqLen;
      const flops = fpt * tokens;
      if (o.maxRunFlops !== undefined && flops > o.maxRunFlops) continue;
      out.push({ id: `${shapeName(shape)}-D${tokens}`, shape, level, steps, tokens, flops, params });
    }
  }
  if (out.length < 5) throw new Error(`the grid has ${out.length} runs under --max-run-flops (need at least 5 to fit L(N, D)); add shapes or token counts, or raise --max-run-flops`);
  return out;
}
