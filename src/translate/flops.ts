// Compute of the encoder–decoder translator, counted from its shapes as src/models/flops.ts counts
// the GPT: 2·m·n·k per matmul, attention included (full over the source, causal over the target,
// cross from every target position to every source position), backward = 2× forward.

import type { TranslatorConfig } from '../models/translator.ts';

/** Forward FLOPs of `rows` sentence pairs of source length ts and decoder length tt. */
export function translatorForwardFlops(c: TranslatorConfig, rows: number, ts: number, tt: number): number {
  const C = c.nEmbd;
  const F = c.nInner ?? 4 * C;
  const mlp = 2 * (C * F + F * C);
  const selfProj = 2 * (C * 3 * C + C * C);
  // Scores and the weighted sum of values: 2·C FLOPs per (query, key) pair each.
  const pairs = (queries: number, keys: number): number => 2 * 2 * C * queries * keys;
  const encoder = ts * (selfProj + mlp) + pairs(ts, ts);
  const decoder = tt * (selfProj + 2 * (C * C + C * C) + mlp) + ts * 2 * (C * 2 * C) + pairs(tt, (tt + 1) / 2) + pairs(tt, ts);
  const head = tt * 2 * C * c.vocabSize;
  return rows * (c.nEncoderLayer * encoder + c.nDecoderLayer * decoder + head);
}

/** Training FLOPs (forward + backward) of one batch. */
export function translatorTrainingFlops(c: TranslatorConfig, rows: number, ts: number, tt: number): number {
  return 3 * translatorForwardFlops(c, rows, ts, tt);
}
