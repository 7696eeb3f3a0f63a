// The Llama family in one file — Llama 2/3, Mistral, Qwen2 and Qwen3 are the same decoder with
// different switches: RMSNorm before attention and MLP, rotary position embeddings (rotate-half),
// grouped-query attention, a SwiGLU MLP, and no learned positions. Parameter names and layouts are
// Hugging Face's *ForCausalLM ones (`model.layers.0.self_attn.q_proj.weight`, stored (out, in) as
// torch.nn.Linear), so Hub checkpoints load by name without conversion. Decoding reuses past keys
// and values from a KvCache, which holds the kv heads only (not their GQA repeats).

import type { Device } from '../backend/device.ts';
import { defaultDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { noGrad } from '../autograd/tape.ts';
import { DropoutSeeds, Embedding, Linear, RmsNorm } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { attention, mergeHeads } from '../ops/attention.ts';
import { add, swiglu } from '../ops/elementwise.ts';
import { crossEntropy, rope } from '../ops/layers.ts';
import { permute, reshape } from '../ops/views.ts';
import { empty, formatShape, type Tensor } from '../tensor/tensor.ts';
import { KvCache } from './kv-cache.ts';

/** How the rotary frequencies are stretched for contexts longer than the model was trained on. */
export type RopeScaling =
  /** Positions divided by `factor` (HF "linear"). */
  | { type: 'linear'; factor: number }
  /**
   * NTK-aware: past maxPositionEmbeddings positions, the base grows with the sequence length
   * (HF "dynamic"). The tables then depend on the length, so cached keys keep the angles they
   * were computed with, as in transformers.
   */
  | { type: 'dynamic'; factor: number }
  /** Llama 3.1/3.2: long wavelengths divided by `factor`, short ones kept, a smooth blend between. */
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface LlamaConfig {
  /** HF `model_type`: which family's checkpoint this is (informational; the switches below decide). */
  modelType: 'llama' | 'mistral' | 'qwen2' | 'qwen3';
  /** Tokens in the vocabulary (HF `vocab_size`). */
  vocabSize: number;
  /** Width of the residual stream, C (HF `hidden_size`). */
  hiddenSize: number;
  /** Hidden width of the SwiGLU MLP (HF `intermediate_size`). */
  intermediateSize: number;
  /** Decoder layers (HF `num_hidden_layers`). */
  numHiddenLayers: number;
  /** Query heads, H (HF `num_attention_heads`). */
  numAttentionHeads: number;
  /** Key/value heads, Hkv; H must be a multiple (HF `num_key_value_heads`; = H without GQA). */
  numKeyValueHeads: number;
  /** Width of one head, D (HF `head_dim`; hiddenSize / H unless set, Qwen3 sets it larger). */
  headDim: number;
  /** Context the model was trained for; the default KV-cache length (HF `max_position_embeddings`). */
  maxPositionEmbeddings: number;
  /** RMSNorm epsilon (HF `rms_norm_eps`). */
  rmsNormEps: number;
  /** Base of the rotary frequencies θ: inv_freq[i] = θ^(−2i/D) (HF `rope_theta`). */
  ropeTheta: number;
  /** HF `rope_scaling`; null for plain RoPE. */
  ropeScaling: RopeScaling | null;
  /** Biases on q/k/v projections (Qwen2 always; Llama/Qwen3 `attention_bias`). */
  qkvBias: boolean;
  /** Bias on the output projection (Llama/Qwen3 `attention_bias`; never in Qwen2). */
  oBias: boolean;
  /** Biases on the MLP projections (HF `mlp_bias`, Llama only). */
  mlpBias: boolean;
  /** RMSNorm over each query and key head before RoPE (Qwen3's q_norm/k_norm). */
  qkNorm: boolean;
  /** LM head shares the token embedding (HF `tie_word_embeddings`). */
  tieWordEmbeddings: boolean;
  /**
   * Attention span in positions (HF `sliding_window`, when the family uses it), or null: a query at
   * position p sees keys p − slidingWindow < j <= p in the layers maxWindowLayers and above.
   */
  slidingWindow: number | null;
  /**
   * Index of the first layer that uses the sliding window (HF `max_window_layers`, Qwen2/Qwen3);
   * the layers below it attend over every position. 0 for Mistral, whose every layer windows.
   */
  maxWindowLayers: number;
  /** Std of the normal weight init (HF `initializer_range`). */
  initializerRange: number;
}

/** A small Llama (SmolLM2-like flags) with the given overrides. */
export function defaultLlamaConfig(overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    modelType: 'llama',
    vocabSize: 49152,
    hiddenSize: 576,
    intermediateSize: 1536,
    numHiddenLayers: 30,
    numAttentionHeads: 9,
    numKeyValueHeads: 3,
    headDim: 64,
    maxPositionEmbeddings: 8192,
    rmsNormEps: 1e-5,
    ropeTheta: 100000,
    ropeScaling: null,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
    tieWordEmbeddings: true,
    slidingWindow: null,
    maxWindowLayers: 0,
    initializerRange: 0.02,
    ...overrides,
  };
}

/** inv_freq[i] for i < D/2, for a sequence of `seqLen` positions (only "dynamic" depends on it). */
export function ropeInverseFrequencies(c: LlamaConfig, seqLen: number): Float64Array {
  const d = c.headDim;
  const s = c.ropeScaling;
  let theta = c.ropeTheta;
  if (s?.type === 'dynamic' && seqLen > c.maxPositionEmbeddings) {
    theta *= ((s.factor * seqLen) / c.maxPositionEmbeddings - (s.factor - 1)) ** (d / (d - 2));
  }
  const inv = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = 1 / theta ** ((2 * i) / d);
  if (s?.type === 'linear') for (let i = 0; i < inv.length; i++) inv[i]! /= s.factor;
  if (s?.type === 'llama3') {
    const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    for (let i = 0; i < inv.length; i++) {
      const wavelen = (2 * Math.PI) / inv[i]!;
      if (wavelen > lowWavelen) inv[i]! /= s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = ((1 - smooth) * inv[i]!) / s.factor + smooth * inv[i]!;
      }
    }
  }
  return inv;
}

/** cos/sin (positions, D/2) tables for positions 0..positions−1, computed in float64. */
interface RopeTables {
  cos: Tensor;
  sin: Tensor;
}

function ropeTables(c: LlamaConfig, positions: number, device: Device): RopeTables {
  const inv = ropeInverseFrequencies(c, positions);
  const half = inv.length;
  const cv = new Float32Array(positions * half);
  const sv = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      cv[p * half + i] = Math.cos(p * inv[i]!);
      sv[p * half + i] = Math.sin(p * inv[i]!);
    }
  }
  return { cos: empty(device, [positions, half]).set(cv), sin: empty(device, [positions, half]).set(sv) };
}

class LlamaAttention extends Module {
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly oProj: Linear;
  readonly qNorm: RmsNorm | null = null;
  readonly kNorm: RmsNorm | null = null;
  private readonly c: LlamaConfig;
  /** Sliding window of this layer, 0 for none. */
  private readonly window: number;

  constructor(c: LlamaConfig, rng: Rng, device: Device, window: number) {
    super();
    this.c = c;
    this.window = window;
    const H = c.numAttentionHeads;
    const Hkv = c.numKeyValueHeads;
    const D = c.headDim;
    const init = { rng, std: c.initializerRange, device, outIn: true };
    this.qProj = this.module('q_proj', new Linear(c.hiddenSize, H * D, { ...init, bias: c.qkvBias }));
    this.kProj = this.module('k_proj', new Linear(c.hiddenSize, Hkv * D, { ...init, bias: c.qkvBias }));
    this.vProj = this.module('v_proj', new Linear(c.hiddenSize, Hkv * D, { ...init, bias: c.qkvBias }));
    this.oProj = this.module('o_proj', new Linear(H * D, c.hiddenSize, { ...init, bias: c.oBias }));
    if (c.qkNorm) {
      this.qNorm = this.module('q_norm', new RmsNorm(D, c.rmsNormEps, device));
      this.kNorm = this.module('k_norm', new RmsNorm(D, c.rmsNormEps, device));
    }
  }

  forward(x: Tensor, tables: RopeTables, start: number, cache: KvCache | null, layer: number): Tensor {
    const [B, T] = x.shape as [number, number, number];
    const { numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: D } = this.c;
    let q = reshape(this.qProj.forward(x), [B, T, H, D]);
    let k = reshape(this.kProj.forward(x), [B, T, Hkv, D]);
    const v = reshape(this.vProj.forward(x), [B, T, Hkv, D]);
    if (this.qNorm && this.kNorm) {
      q = this.qNorm.forward(q); // per head, over D
      k = this.kNorm.forward(k);
    }
    q = rope(q, tables.cos, tables.sin, start); // (B, T, H, D)
    k = rope(k, tables.cos, tables.sin, start); // (B, T, Hkv, D)
    const qh = permute(q, [0, 2, 1, 3]); // (B, H, T, D) views
    let kh = permute(k, [0, 2, 1, 3]); // (B, Hkv, T, D)
    let vh = permute(v, [0, 2, 1, 3]);
    if (cache) [kh, vh] = cache.append(layer, kh, vh); // (B, Hkv, start+T, D)
    // The cache keeps every position; the window masks the ones behind it.
    const y = attention(qh, kh, vh, { window: this.window }); // (B, H, T, D), GQA inside; stored (B, T, H, D)
    return this.oProj.forward(mergeHeads(y)); // (B, T, C)
  }
}

/** SwiGLU: down(silu(gate(x)) · up(x)). */
class LlamaMlp extends Module {
  readonly gateProj: Linear;
  readonly upProj: Linear;
  readonly downProj: Linear;

  constructor(c: LlamaConfig, rng: Rng, device: Device) {
    super();
    const init = { rng, std: c.initializerRange, device, outIn: true, bias: c.mlpBias };
    this.gateProj = this.module('gate_proj', new Linear(c.hiddenSize, c.intermediateSize, init));
    this.upProj = this.module('up_proj', new Linear(c.hiddenSize, c.intermediateSize, init));
    this.downProj = this.module('down_proj', new Linear(c.intermediateSize, c.hiddenSize, init));
  }

  forward(x: Tensor): Tensor {
    return this.downProj.forward(swiglu(this.gateProj.forward(x), this.upProj.forward(x))); // (B, T, C)
  }
}

class LlamaDecoderLayer extends Module {
  readonly inputLayernorm: RmsNorm;
  readonly selfAttn: LlamaAttention;
  readonly postAttentionLayernorm: RmsNorm;
  readonly mlp: LlamaMlp;

  constructor(c: LlamaConfig, rng: Rng, device: Device, window: number) {
    super();
    this.inputLayernorm = this.module('input_layernorm', new RmsNorm(c.hiddenSize, c.rmsNormEps, device));
    this.selfAttn = this.module('self_attn', new LlamaAttention(c, rng, device, window));
    this.postAttentionLayernorm = this.module('post_attention_layernorm', new RmsNorm(c.hiddenSize, c.rmsNormEps, device));
    this.mlp = this.module('mlp', new LlamaMlp(c, rng, device));
  }

  forward(x: Tensor, tables: RopeTables, start: number, cache: KvCache | null, layer: number): Tensor {
    const h = add(x, this.selfAttn.forward(this.inputLayernorm.forward(x), tables, start, cache, layer)); // (B, T, C)
    return add(h, this.mlp.forward(this.postAttentionLayernorm.forward(h)));
  }
}

/** The decoder stack without the LM head (HF `model.`). */
class LlamaModel extends Module {
  readonly embedTokens: Embedding;
  readonly layers: LlamaDecoderLayer[] = [];
  readonly norm: RmsNorm;

  constructor(c: LlamaConfig, rng: Rng, device: Device) {
    super();
    this.embedTokens = this.module('embed_tokens', new Embedding(c.vocabSize, c.hiddenSize, { rng, std: c.initializerRange, device }));
    for (let i = 0; i < c.numHiddenLayers; i++) this.layers.push(this.module(`layers.${i}`, new LlamaDecoderLayer(c, rng, device, layerWindow(c, i))));
    this.norm = this.module('norm', new RmsNorm(c.hiddenSize, c.rmsNormEps, device));
  }
}

export interface LlamaOutput {
  /** (B, T, vocabSize) next-token scores. */
  logits: Tensor;
  /** Mean cross-entropy against the targets, when targets were given. */
  loss: Tensor | null;
}

export class Llama extends Module {
  readonly config: LlamaConfig;
  readonly device: Device;
  readonly model: LlamaModel;
  /** Null when tied to model.embed_tokens. */
  readonly lmHead: Linear | null = null;
  /**
   * LoRA's default targets: every linear layer of attention and MLP, as for GPT-2 (PEFT's own
   * default for Llama is q_proj and v_proj only; pass --target q_proj,v_proj for that).
   */
  readonly loraTargets: readonly string[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  /** Module names here are already Hugging Face's (`model.layers.0…`). */
  readonly hfNamePrefix = '';
  /** The model has no dropout; a LoRA adapter's dropout draws its masks from these (set by the trainer). */
  readonly dropoutSeeds = new DropoutSeeds();

  constructor(config: LlamaConfig, opts: { seed?: number; device?: Device } = {}) {
    super();
    validateLlamaConfig(config);
    this.config = config;
    const device = opts.device ?? defaultDevice();
    this.device = device;
    const rng = new Rng(opts.seed ?? 0);
    this.model = this.module('model', new LlamaModel(config, rng, device));
    if (!config.tieWordEmbeddings) {
      this.lmHead = this.module('lm_head', new Linear(config.hiddenSize, config.vocabSize, { rng, std: config.initializerRange, device, outIn: true, bias: false }));
    }
  }

  /**
   * ids (B, T) int32 → logits (B, T, V), and the mean cross-entropy when targets (B, T) are
   * given (targets of -100 are ignored). With a cache, ids continue the cached positions.
   */
  forward(ids: Tensor, targets: Tensor | null = null, cache: KvCache | null = null): LlamaOutput {
    if (ids.ndim !== 2 || ids.dtype !== 'int32') throw new Error(`Llama.forward: ids must be int32 (batch, time), got ${ids.dtype} ${formatShape(ids.shape)}`);
    const [B, T] = ids.shape as [number, number];
    const start = cache ? cache.length : 0;
    cache?.expectRoom('Llama.forward', B, T);
    const tables = ropeTables(this.config, start + T, this.device);
    let x = this.model.embedTokens.forward(ids); // (B, T, C)
    for (let i = 0; i < this.model.layers.length; i++) x = this.model.layers[i]!.forward(x, tables, start, cache, i);
    x = this.model.norm.forward(x);
    const logits = this.lmHead ? this.lmHead.forward(x) : this.model.embedTokens.attend(x); // (B, T, V)
    cache?.advance(T);
    const loss = targets ? crossEntropy(logits, targets) : null;
    return { logits, loss };
  }

  /** Positions generation may use: max_position_embeddings (a sliding window only masks, it does not cap). */
  get contextLength(): number {
    return this.config.maxPositionEmbeddings;
  }

  /** A KV cache (kv heads only) for decoding `batch` sequences of up to maxLength positions. */
  createCache(batch: number, maxLength = this.config.maxPositionEmbeddings): KvCache {
    const c = this.config;
    return new KvCache({ layers: c.numHiddenLayers, batch, heads: c.numKeyValueHeads, headDim: c.headDim, maxLength }, this.device);
  }

  /** Logits of a batch without recording gradients. */
  logits(ids: Tensor): Tensor {
    return noGrad(() => this.forward(ids).logits);
  }
}

/** The sliding window of layer i (0 for none): slidingWindow from layer maxWindowLayers on. */
export function layerWindow(c: LlamaConfig, i: number): number {
  return c.slidingWindow !== null && i >= c.maxWindowLayers ? c.slidingWindow : 0;
}

export function validateLlamaConfig(c: LlamaConfig): void {
  const positive = ['vocabSize', 'hiddenSize', 'intermediateSize', 'numHiddenLayers', 'numAttentionHeads', 'numKeyValueHeads', 'headDim', 'maxPositionEmbeddings'] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`Llama config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) {
    throw new Error(`Llama config: numAttentionHeads (${c.numAttentionHeads}) must be a multiple of numKeyValueHeads (${c.numKeyValueHeads})`);
  }
  if (c.headDim % 2 !== 0) throw new Error(`Llama config: headDim must be even for rotary embeddings, got ${c.headDim}`);
  if (!(c.rmsNormEps > 0)) throw new Error(`Llama config: rmsNormEps must be positive, got ${c.rmsNormEps}`);
  if (!(c.ropeTheta > 0)) throw new Error(`Llama config: ropeTheta must be positive, got ${c.ropeTheta}`);
  if (c.ropeScaling && !(c.ropeScaling.factor >= 1)) throw new Error(`Llama config: ropeScaling.factor must be at least 1, got ${c.ropeScaling.factor}`);
  if (c.slidingWindow !== null && (!Number.isInteger(c.slidingWindow) || c.slidingWindow <= 0)) {
    throw new Error(`Llama config: slidingWindow must be a positive integer or null, got ${c.slidingWindow}`);
  }
  if (!Number.isInteger(c.maxWindowLayers) || c.maxWindowLayers < 0) {
    throw new Error(`Llama config: maxWindowLayers must be a non-negative integer, got ${c.maxWindowLayers}`);
  }
}
