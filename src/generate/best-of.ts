// Best-of-n sampling: generate bestOf completions of a prompt, score each, keep the n best. The
// scorer is a parameter (a reward model from src/align, or the mean token log-probability, which
// is what OpenAI's `best_of` ranked by), so this layer does not depend on the alignment code.

import { generate, type Completion, type GenerateOptions, type GenerateResult, type CausalLm, type LanguageModel } from './generate.ts';

/** Scores of completions (texts) of one prompt (text); higher is better. */
export type CompletionScorer = (prompt: string, completions: readonly Completion[]) => number[] | Promise<number[]>;

export interface BestOfOptions extends GenerateOptions {
  /** Candidates to generate (≥ n). */
  bestOf: number;
  score: CompletionScorer;
}

export interface BestOfResult extends GenerateResult {
  /** Scores of the returned completions, best first. */
  scores: number[];
  /** Every candidate with its score, in generation order. */
  candidates: Array<{ completion: Completion; score: number }>;
}

/** Mean log-probability per generated token (OpenAI's best_of criterion); empty completions rank last. */
export const meanLogprobScorer: CompletionScorer = (_prompt, completions) =>
  completions.map((c) => (c.tokens.length === 0 ? -Infinity : c.tokens.reduce((s, t) => s + t.logprob, 0) / c.tokens.length));

export async function generateBestOf(lm: LanguageModel<CausalLm>, prompt: string | readonly number[], opts: BestOfOptions): Promise<BestOfResult> {
  const n = opts.n ?? 1;
  if (!Number.isInteger(opts.bestOf) || opts.bestOf < n) throw new Error(`bestOf must be an integer >= n (${n}), got ${opts.bestOf}`);
  const { bestOf, score, ...rest } = opts;
  const all = await generate(lm, prompt, { ...rest, n: bestOf });
  const promptText = typeof prompt === 'string' ? prompt : lm.tokenizer.decode(all.promptTokens);
  const scores = await score(promptText, all.completions);
  if (scores.length !== all.completions.length) throw new Error(`the scorer returned ${scores.length} scores for ${all.completions.length} completions`);
  const candidates = all.completions.map((completion, i) => ({ completion, score: scores[i]! }));
  // Stable: equal scores keep generation order.
  const ranked = candidates.map((c, i) => ({ ...c, i })).sort((a, b) => (b.score === a.score ? a.i - b.i : Number.isNaN(a.score) ? 1 : Number.isNaN(b.score) ? -1 : b.score - a.score));
  const top = ranked.slice(0, n);
  return { promptTokens: all.promptTokens, completions: top.map((c) => c.completion), scores: top.map((c) => c.score), candidates };
}
