// Compute accounting for GPT training, counted from the shapes rather than guessed: every matmul
// costs 2·m·n·k FLOPs; backward costs twice the forward (gradients w.r.t. inputs and weights).
// Elementwise work (layerNorm, GELU, softmax, AdamW) is under 1% at these shapes and not counted,
// as in Kaplan et al. (2020) and Hoffmann et al. (2022).

import type { GptConfig } from './gpt.ts';

/** Forward FLOPs per token at context length seqLen (causal attention averaged over positions). */
export function forwardFlopsPerToken(c: GptConfig, seqLen: number, o: { head?: boolean } = {}): number {
  const C = c.nEmbd;
  const hidden = c.nInner ?? 4 * C;
  const perLayerMatmuls = 2 * (C * 3 * C + C * C + C * hidden + hidden * C);
  const head = o.head === false ? 0 : 2 * C * c.vocabSize;
  return c.nLayer * (perLayerMatmuls + attentionFlopsPerToken(c, seqLen)) + head;
}

/**
 * Scores QKᵀ and the weighted sum of V: 2·C FLOPs per (query, key) pair each; a causal query at
 * position t sees t+1 keys, (seqLen+1)/2 on average. Per layer and token.
 */
function attentionFlopsPerToken(c: GptConfig, seqLen: number): number {
  return 2 * 2 * c.nEmbd * ((seqLen + 1) / 2);
}

/** Training FLOPs (forward + backward) for `tokens` tokens. */
export function trainingFlops(c: GptConfig, tokens: number, seqLen: number, o: { head?: boolean } = {}): number {
  return 3 * forwardFlopsPerToken(c, seqLen, o) * tokens;
}

/**
 * Training FLOPs with LoRA: the frozen weights need gradients only with respect to their inputs,
 * so their matmuls cost 2× forward instead of 3×; attention (no weights) still costs 3×; the
 * adapter's A and B (r·(in + out) parameters per adapted matrix, 2 FLOPs each per token) cost 3×.
 * The first layer's input gradient, which the engine skips, is counted: an upper bound within one
 * layer's input gradients.
 */
export function loraTrainingFlops(c: GptConfig, tokens: number, seqLen: number, adapterParameters: number): number {
  const attention = c.nLayer * attentionFlopsPerToken(c, seqLen);
  const weights = forwardFlopsPerToken(c, seqLen) - attention;
  return tokens * (2 * weights + 3 * attention + 3 * 2 * adapterParameters);
}

/** Training FLOPs of `rows` sequences of `width` positions: full, or LoRA with that many adapter parameters. */
export function trainStepFlops(c: GptConfig, rows: number, width: number, adapterParameters: number | null, o: { head?: boolean } = {}): number {
  if (adapterParameters === null) return trainingFlops(c, rows * width, width, o);
  return loraTrainingFlops(c, rows * width, width, adapterParameters);
}
