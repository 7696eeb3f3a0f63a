// Log-probabilities and entropies of given token ids (the echo of /v1/completions and
// /api/analyze). generate.ts's scoreText scores text; this variant takes ids, because a completions
// prompt may be ids that no text encodes to, and it reports each position's entropy. Like scoreText, the first token is scored after startOfTextId (BOS or
// end-of-text) when the tokenizer has one; a prompt that itself starts with it has nothing before its first
// token, which therefore has no log-probability (null, as OpenAI reports it).

import { noGrad } from '../autograd/tape.ts';
import { startOfTextId, type CausalLm, type LanguageModel, type TokenAlternative } from '../generate/generate.ts';
import { logSoftmax, topLogprobs } from '../generate/sampling.ts';
import { empty } from '../tensor/tensor.ts';

export interface IdScore {
  id: number;
  logprob: number | null;
  top: TokenAlternative[];
  /** Entropy (nats) of the model's distribution at this position, from the same log-softmax row (null when unscored). */
  entropy: number | null;
}

export function scoreIds(lm: LanguageModel<CausalLm>, ids: readonly number[], topK: number, opts: { startOfText?: boolean } = {}): IdScore[] {
  const { model, tokenizer } = lm;
  if (ids.length === 0) return [];
  const bos = startOfTextId(tokenizer);
  const lead = opts.startOfText !== false && bos !== null && ids[0] !== bos ? 1 : 0;
  const input = lead ? [bos!, ...ids] : [...ids];
  if (input.length > model.contextLength) {
    throw new Error(`scoreIds: ${input.length} positions exceed the model's context of ${model.contextLength}`);
  }
  const V = model.config.vocabSize;
  const dev = model.device;
  const wasTraining = model.training;
  model.eval();
  try {
    const logits = dev.scope(() => noGrad(() => model.forward(empty(dev, [1, input.length], 'int32').set(input)).logits.toArray()));
    const lp = new Float64Array(V);
    return ids.map((id, i) => {
      const row = i + lead - 1; // logits row that predicts token i
      if (row < 0) return { id, logprob: null, top: [], entropy: null };
      logSoftmax(logits.subarray(row * V, (row + 1) * V), lp);
      return { id, logprob: lp[id]!, top: topLogprobs(lp, topK).map((c) => ({ id: c.id, text: tokenizer.tokenText(c.id), logprob: c.logprob })), entropy: entropyOf(lp) };
    });
  } finally {
    model.train(wasTraining);
  }
}

/** −Σ p log p over a log-softmax row; tokens of probability 0 (log −∞) contribute nothing. */
export function entropyOf(logprobs: Float64Array): number {
  let h = 0;
  for (let i = 0; i < logprobs.length; i++) if (logprobs[i]! > -Infinity) h -= Math.exp(logprobs[i]!) * logprobs[i]!;
  return h;
}

/**
 * Scores a text longer than the model's context with overlapping windows: the first window reads
 * from the start of text; after it, each window advances by half a context and scores only its
 * new tokens, so every token is predicted from at least half a context of preceding text.
 */
export function scoreIdsWindowed(lm: LanguageModel<CausalLm>, ids: readonly number[], topK: number): IdScore[] {
  const ctx = lm.model.contextLength;
  const bos = startOfTextId(lm.tokenizer);
  const lead = bos !== null && ids[0] !== bos ? 1 : 0;
  if (ids.length + lead <= ctx) return scoreIds(lm, ids, topK);
  const out = scoreIds(lm, ids.slice(0, ctx - lead), topK);
  const stride = Math.max(1, Math.floor(ctx / 2));
  for (let pos = out.length; pos < ids.length; ) {
    const end = Math.min(ids.length, pos + stride);
    const start = end - ctx;
    const window = scoreIds(lm, ids.slice(start, end), topK, { startOfText: false });
    out.push(...window.slice(pos - start));
    pos = end;
  }
  return out;
}
