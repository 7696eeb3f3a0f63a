// Compute accounting for GPT training, counted from the shapes rather than guessed: every matmul
// costs 2·m·n·k FLOPs; backward costs twice the forward (gradients w.r.t. inputs and weights).
// Elementwise work (layerNorm, GELU, softmax, AdamW) is under 1% at these shapes and not counted,
// as in Kaplan et al. (2020) and Hoffmann et al. (2022).

import type { GptConfig } from './gpt.ts';

/** Forward FLOPs per token at context length seqLen (causal attention averaged over positions). */
export function forwardFlopsPerToken(c: GptConfig, seqLen: number): number {
  const C = c.nEmbd;
  const hidden = c.nInner ?? 4 * C;
  const perLayerMatmuls = 2 * (C * 3 * C + C * C + C * hidden + hidden * C);
  // Scores QKᵀ and the weighted sum of V: 2·C FLOPs per (query, key) pair each; a causal query
  // at position t sees t+1 keys, (seqLen+1)/2 on average.
  const attention = 2 * 2 * C * ((seqLen + 1) / 2);
  const head = 2 * C * c.vocabSize;
  return c.nLayer * (perLayerMatmuls + attention) + head;
}

/** Training FLOPs (forward + backward) for `tokens` tokens. */
export function trainingFlops(c: GptConfig, tokens: number, seqLen: number): number {
  return 3 * forwardFlopsPerToken(c, seqLen) * tokens;
}
