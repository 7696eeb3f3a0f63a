// Compute accounting for GPT-2 and Llama-family training, counted from the shapes rather than guessed: every matmul
// costs 2·m·n·k FLOPs; backward costs twice the forward (gradients w.r.t. inputs and weights).
// Elementwise work (layerNorm/RMSNorm, GELU/SwiGLU, RoPE, softmax, AdamW) is under 1% at these shapes and not counted,
// as in Kaplan et al. (2020) and Hoffmann et al. (2022).

import type { GptConfig } from './gpt.ts';
import { layerWindow, type LlamaConfig } from './llama.ts';

/** A GPT-2 or Llama-family configuration: the counts below read its shapes. */
export type DecoderConfig = GptConfig | LlamaConfig;

/** The shapes the counts need: weight matmul FLOPs of one layer per token, and the attention width. */
interface FlopShape {
  layers: number;
  /** 2·(parameters of the layer's weight matrices): what its matmuls cost per token. */
  layerWeightFlops: number;
  /** Width of the query·key and probability·value products summed over heads (C; Llama H·D). */
  attentionWidth: number;
  /** Each layer's sliding window (0: every earlier position). */
  windows: number[];
  hidden: number;
  vocabSize: number;
}

function flopShape(c: DecoderConfig): FlopShape {
  if ('nEmbd' in c) {
    const C = c.nEmbd;
    const hidden = c.nInner ?? 4 * C;
    return { layers: c.nLayer, layerWeightFlops: 2 * (C * 3 * C + C * C + C * hidden + hidden * C), attentionWidth: C, windows: new Array<number>(c.nLayer).fill(0), hidden: C, vocabSize: c.vocabSize };
  }
  // q, k, v (k and v over the kv heads only: GQA), o; then the SwiGLU MLP's gate, up and down.
  const C = c.hiddenSize;
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const attn = C * q + 2 * C * kv + q * C;
  const windows = Array.from({ length: c.numHiddenLayers }, (_, i) => layerWindow(c, i));
  return { layers: c.numHiddenLayers, layerWeightFlops: 2 * (attn + 3 * C * c.intermediateSize), attentionWidth: q, windows, hidden: C, vocabSize: c.vocabSize };
}

/** Forward FLOPs per token at context length seqLen (causal attention averaged over positions). */
export function forwardFlopsPerToken(c: DecoderConfig, seqLen: number, o: { head?: boolean } = {}): number {
  const s = flopShape(c);
  const head = o.head === false ? 0 : 2 * s.hidden * s.vocabSize;
  return s.layers * s.layerWeightFlops + attentionFlopsPerToken(s, seqLen) + head;
}

/**
 * Scores QKᵀ and the weighted sum of V: 2·width FLOPs per (query, key) pair each; a causal query
 * at position t sees t+1 keys, (seqLen+1)/2 on average, or min(t+1, w) through a window of w.
 * Summed over the layers, per token.
 */
function attentionFlopsPerToken(s: FlopShape, seqLen: number): number {
  let keys = 0;
  for (const w of s.windows) keys += w === 0 || seqLen <= w ? (seqLen + 1) / 2 : ((w * (w + 1)) / 2 + (seqLen - w) * w) / seqLen;
  return 2 * 2 * s.attentionWidth * keys;
}

/** Training FLOPs (forward + backward) for `tokens` tokens. */
export function trainingFlops(c: DecoderConfig, tokens: number, seqLen: number, o: { head?: boolean } = {}): number {
  return 3 * forwardFlopsPerToken(c, seqLen, o) * tokens;
}

/**
 * Training FLOPs with LoRA: the frozen weights need gradients only with respect to their inputs,
 * so their matmuls cost 2× forward instead of 3×; attention (no weights) still costs 3×; the
 * adapter's A and B (r·(in + out) parameters per adapted matrix, 2 FLOPs each per token) cost 3×.
 * The first layer's input gradient, which the engine skips, is counted: an upper bound within one
 * layer's input gradients.
 */
export function loraTrainingFlops(c: DecoderConfig, tokens: number, seqLen: number, adapterParameters: number): number {
  const s = flopShape(c);
  const attention = attentionFlopsPerToken(s, seqLen);
  const weights = forwardFlopsPerToken(c, seqLen) - attention;
  return tokens * (2 * weights + 3 * attention + 3 * 2 * adapterParameters);
}

/** Training FLOPs of `rows` sequences of `width` positions: full, or LoRA with that many adapter parameters. */
export function trainStepFlops(c: DecoderConfig, rows: number, width: number, adapterParameters: number | null, o: { head?: boolean } = {}): number {
  if (adapterParameters === null) return trainingFlops(c, rows * width, width, o);
  return loraTrainingFlops(c, rows * width, width, adapterParameters);
}
