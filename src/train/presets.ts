// Model presets: a shape plus the tokenizer size and training defaults that suit it on a 2-core
// machine. Most are GPT-2 shapes; those with `architecture: 'llama'` follow the Llama recipe
// (RMSNorm, rotary positions, SwiGLU, no biases, optionally grouped-query attention) at the same
// sizes, so the two recipes can be compared shape for shape. `tiny` is what tests use; `base` is
// the GPT-2 shape that reached the lowest validation loss in 15 minutes on 2 cores, and `base-llama`
// (the default) is that shape with the Llama recipe, which reached a lower one; `app` is what
// `npm start` trains.

import type { GptConfig } from '../models/gpt.ts';
import { defaultLlamaConfig, type LlamaConfig } from '../models/llama.ts';

interface PresetTraining {
  /** One line for --help. */
  description: string;
  /** BPE vocabulary size (including <|endoftext|>). */
  vocabSize: number;
  /** Training defaults. */
  batch: number;
  seqLen: number;
  steps: number;
  lr: number;
}

/** A GPT-2 shape (HF GPT2LMHeadModel); presets without `architecture` are these. */
export interface GptPreset extends PresetTraining {
  architecture?: 'gpt2';
  model: Omit<GptConfig, 'vocabSize'>;
}

/** A Llama-recipe shape (HF LlamaForCausalLM). */
export interface LlamaPreset extends PresetTraining {
  architecture: 'llama';
  model: Omit<LlamaConfig, 'vocabSize'>;
}

export type Preset = GptPreset | LlamaPreset;

const common = { nInner: null, layerNormEpsilon: 1e-5, embdPdrop: 0, residPdrop: 0, attnPdrop: 0, initializerRange: 0.02 };

/**
 * SwiGLU's hidden width for a residual width C: it has three matrices where GPT-2's MLP has two,
 * so 8/3·C gives it the parameters and FLOPs of a 4·C GELU MLP (as in Llama); rounded to a
 * multiple of 32, whole tiles for the matmul kernels.
 */
export function swigluWidth(hiddenSize: number): number {
  return Math.max(32, Math.round((8 * hiddenSize) / 3 / 32) * 32);
}

/**
 * The Llama recipe at a GPT-2 preset's size: every switch is set here (fields the Llama config
 * may gain later keep defaultLlamaConfig's values; the tokenizer decides the vocabulary).
 */
function llamaRecipe(o: { hiddenSize: number; layers: number; heads: number; kvHeads: number; context: number }): Omit<LlamaConfig, 'vocabSize'> {
  const { vocabSize: _vocabSize, ...config } = defaultLlamaConfig({
    // Written as a LlamaForCausalLM folder (config.json model_type "llama").
    modelType: 'llama',
    // Residual width C, as GPT-2's n_embd.
    hiddenSize: o.hiddenSize,
    // SwiGLU MLP (silu(gate)·up, then down) of GPT-2's MLP cost: see swigluWidth.
    intermediateSize: swigluWidth(o.hiddenSize),
    numHiddenLayers: o.layers,
    numAttentionHeads: o.heads,
    // Grouped-query attention when fewer than the query heads: each key/value head serves
    // heads/kvHeads query heads, shrinking K/V projections and the KV cache.
    numKeyValueHeads: o.kvHeads,
    headDim: o.hiddenSize / o.heads,
    // No position table: RoPE encodes positions in q and k. The context trained on, and the KV
    // cache's default length.
    maxPositionEmbeddings: o.context,
    // RMSNorm before attention and MLP (no mean, no bias); Llama 2/3's epsilon.
    rmsNormEps: 1e-5,
    // RoPE base of Llama 1/2; larger bases (Llama 3's 500,000) are for contexts of many thousands.
    ropeTheta: 10000,
    // Plain RoPE: the model is used at the context it was trained for.
    ropeScaling: null,
    // No biases anywhere (q/k/v, o, MLP), as in Llama and PaLM.
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    // Qwen3's per-head q/k RMSNorm is not part of the Llama recipe.
    qkNorm: false,
    // The LM head shares the token embedding, as GPT-2 does: at 2048 × 128 an own head would add
    // 262k parameters, more than a layer.
    tieWordEmbeddings: true,
    // Every position attends to the whole causal context.
    slidingWindow: null,
    // Normal(0, 0.02) for every matrix, as transformers initialises Llama.
    initializerRange: 0.02,
  });
  return config;
}

export const presets = {
  tiny: {
    description: '2 layers, 64 wide, 64-token context: trains in about a minute (tests)',
    model: { ...common, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 2 },
    vocabSize: 512,
    batch: 16,
    seqLen: 64,
    steps: 1000,
    lr: 3e-3,
  },
  'tiny-llama': {
    architecture: 'llama',
    description: "tiny's size with the Llama recipe and grouped-query attention (2 query heads share 1 key/value head): tests",
    model: llamaRecipe({ hiddenSize: 64, layers: 2, heads: 2, kvHeads: 1, context: 64 }),
    vocabSize: 512,
    batch: 16,
    seqLen: 64,
    steps: 1000,
    lr: 3e-3,
  },
  small: {
    description: '4 layers, 128 wide, 128-token context (benchmark config a)',
    model: { ...common, nPositions: 128, nEmbd: 128, nLayer: 4, nHead: 4 },
    vocabSize: 1024,
    batch: 16,
    seqLen: 128,
    steps: 1500,
    lr: 2e-3,
  },
  app: {
    description: "4 layers, 128 wide, 128-token context: the app's default model (about 5 minutes on 2 cores)",
    model: { ...common, nPositions: 128, nEmbd: 128, nLayer: 4, nHead: 4 },
    vocabSize: 2048,
    batch: 16,
    seqLen: 128,
    steps: 1000,
    lr: 2e-3,
  },
  base: {
    description: '4 layers, 128 wide, 256-token context: the best GPT-2 shape tried for 15 minutes on 2 cores',
    // bench/choose-default-preset.ts: at 15 minutes (7,800 steps here) this shape reached a lower
    // validation loss than 4 × 96 (10,000 steps); wider shapes lost already at half that budget.
    model: { ...common, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4 },
    vocabSize: 2048,
    batch: 8,
    seqLen: 256,
    steps: 7800,
    lr: 2e-3,
  },
  'base-llama': {
    architecture: 'llama',
    description: "the default: base's size (4 layers, 128 wide, 256-token context) with the Llama recipe (RMSNorm, RoPE, SwiGLU, no biases)",
    // Same width, depth, heads, context, vocabulary, batch and schedule as `base`; plain multi-head
    // attention (GQA saves little at 4 heads of 32). bench/choose-default-preset.ts gave it 10,700
    // steps for 15 minutes on 2 Zen 5 cores (2026-12-08), where it reached a validation loss of
    // 2.868 against 3.058 for `base` in the same time (README, "Choosing the default preset").
    model: llamaRecipe({ hiddenSize: 128, layers: 4, heads: 4, kvHeads: 4, context: 256 }),
    vocabSize: 2048,
    batch: 8,
    seqLen: 256,
    steps: 10700,
    lr: 2e-3,
  },
} satisfies Record<string, Preset>;

export type PresetName = keyof typeof presets;
export const presetNames = Object.keys(presets) as PresetName[];
export const defaultPreset: PresetName = 'base-llama';

/** The preset's architecture ('gpt2' when it names none). */
export function presetArchitecture(p: Preset): 'gpt2' | 'llama' {
  return p.architecture ?? 'gpt2';
}

/** A GPT-2 preset by name, for code that builds a GPT itself; a Llama preset is refused with `what` in the message. */
export function gptPreset(name: string, what: string): GptPreset {
  const p = (presets as Record<string, Preset>)[name];
  if (!p) throw new Error(`--model '${name}' is not a preset; choose one of ${presetNames.join(', ')}`);
  if (p.architecture === 'llama') {
    throw new Error(`--model '${name}' is a Llama-recipe preset; ${what} trains GPT-2 presets only (${presetNames.filter((n) => presetArchitecture(presets[n]) === 'gpt2').join(', ')})`);
  }
  return p;
}
