// The encoder–decoder Transformer of Vaswani et al. (2017), "Attention Is All You Need", in one
// file: an encoder of non-causal self-attention blocks reads the source sentence; a decoder of
// causal self-attention + cross-attention blocks writes the target one token at a time, each
// cross-attention reading the encoder's output. Pre-LayerNorm blocks (more stable to train than
// the paper's post-LN at this size), GELU MLPs, one BPE vocabulary shared by both languages and
// one embedding table shared by the encoder and decoder inputs (the paper's shared source–target
// vocabulary); the output projection is a matrix of its own unless tieWordEmbeddings (see there).
// Positions are sinusoidal (the paper) or learned.
//
// Sequences: source = [x₁ … xₘ, eos]; decoder input = [eos, y₁ … yₙ], predicting [y₁ … yₙ, eos].
// The fused attention kernel has no key-padding mask, so a batch holds sources of one length
// (bucketing); targets are padded at the end with ignored (-100) positions, which causal
// attention never lets earlier positions see.

import type { Device } from '../backend/device.ts';
import { defaultDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { noGrad } from '../autograd/tape.ts';
import { DropoutSeeds, Dropout, Embedding, LayerNorm, Linear } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { attention, mergeHeads, splitHeads } from '../ops/attention.ts';
import { add, gelu, scale } from '../ops/elementwise.ts';
import { crossEntropy, embedding } from '../ops/layers.ts';
import { matmul } from '../ops/matmul.ts';
import { slice, writeSlice } from '../ops/views.ts';
import { empty, formatShape, type Tensor } from '../tensor/tensor.ts';
import { KvCache } from './kv-cache.ts';

export interface TranslatorConfig {
  /** Tokens in the shared source/target BPE vocabulary. */
  vocabSize: number;
  /** Longest source or target sequence (including its eos) the model handles. */
  nPositions: number;
  /** Width of the residual stream, C (the paper's d_model). */
  nEmbd: number;
  /** Blocks in the encoder. */
  nEncoderLayer: number;
  /** Blocks in the decoder. */
  nDecoderLayer: number;
  /** Attention heads per attention layer; nEmbd must divide evenly. */
  nHead: number;
  /** Hidden width of the MLPs (null means 4·nEmbd, the paper's d_ff = 4·d_model). */
  nInner: number | null;
  /** 'sinusoidal' (fixed, the paper's) or 'learned' (a trained table, as BERT/GPT). */
  positions: 'sinusoidal' | 'learned';
  /**
   * Output projection = the shared embedding (true, the paper's) or a separate matrix (false, the
   * default). Tied, the √C-scaled input embedding makes every position start out predicting its
   * own input token with a logit near √C, which training must first unlearn: at 256 wide that cost
   * more steps than our budgets have (docs/translation.md).
   */
  tieWordEmbeddings: boolean;
  /** LayerNorm epsilon. */
  layerNormEpsilon: number;
  /** Dropout on the embeddings and on every residual branch (training only). */
  dropout: number;
  /** Std of the normal init of the linear layers (embeddings use nEmbd^-1/2). */
  initializerRange: number;
  /** The token that ends every sequence and starts the decoder's input. */
  eosTokenId: number;
  /** Language codes (e.g. "en", "de"), for people and the API; not used by the computation. */
  sourceLang: string;
  targetLang: string;
}

export function defaultTranslatorConfig(overrides: Partial<TranslatorConfig> & Pick<TranslatorConfig, 'vocabSize' | 'eosTokenId'>): TranslatorConfig {
  return {
    nPositions: 256,
    nEmbd: 256,
    nEncoderLayer: 3,
    nDecoderLayer: 3,
    nHead: 4,
    nInner: null,
    positions: 'sinusoidal',
    tieWordEmbeddings: false,
    layerNormEpsilon: 1e-5,
    dropout: 0.1,
    initializerRange: 0.02,
    sourceLang: 'src',
    targetLang: 'tgt',
    ...overrides,
  };
}

/** The paper's fixed table: PE(t, 2i) = sin(t / 10000^(2i/C)), PE(t, 2i+1) = cos(…). */
export function sinusoidalTable(positions: number, dim: number): Float32Array {
  const out = new Float32Array(positions * dim);
  for (let t = 0; t < positions; t++) {
    for (let i = 0; i < dim; i += 2) {
      const angle = t / 10000 ** (i / dim);
      out[t * dim + i] = Math.sin(angle);
      if (i + 1 < dim) out[t * dim + i + 1] = Math.cos(angle);
    }
  }
  return out;
}

/**
 * Per decoder layer: past keys/values of its self-attention (the KvCache part; reorder() moves
 * only those, as every row holds the same source) and the source's keys/values of its
 * cross-attention.
 */
export class DecoderCache extends KvCache {
  /** (B, H, Ts, D) per layer, filled once from the encoder output. */
  readonly memoryKeys: Tensor[] = [];
  readonly memoryValues: Tensor[] = [];

  constructor(
    readonly config: TranslatorConfig,
    batch: number,
    maxLength: number,
    readonly sourceLength: number,
    device: Device,
  ) {
    if (maxLength > config.nPositions) throw new Error(`DecoderCache: maxLength ${maxLength} exceeds the model's ${config.nPositions} positions`);
    const d = config.nEmbd / config.nHead;
    super({ layers: config.nDecoderLayer, batch, heads: config.nHead, headDim: d, maxLength }, device);
    device.heapScope(() => {
      for (let i = 0; i < config.nDecoderLayer; i++) {
        this.memoryKeys.push(empty(device, [batch, config.nHead, sourceLength, d]));
        this.memoryValues.push(empty(device, [batch, config.nHead, sourceLength, d]));
      }
    });
  }

  override free(): void {
    super.free();
    for (const t of [...this.memoryKeys, ...this.memoryValues]) t.device.freeStorage(t.storage);
  }
}

class SelfAttention extends Module {
  readonly qkv: Linear;
  readonly outProj: Linear;
  private readonly nHead: number;

  constructor(
    cfg: TranslatorConfig,
    rng: Rng,
    device: Device,
    private readonly causal: boolean,
    depth: number,
  ) {
    super();
    this.nHead = cfg.nHead;
    this.qkv = this.module('qkv', new Linear(cfg.nEmbd, 3 * cfg.nEmbd, { rng, std: cfg.initializerRange, device }));
    // Residual projections scaled by 1/√(2·depth) (GPT-2) so the residual stream's variance does not grow with depth.
    this.outProj = this.module('out_proj', new Linear(cfg.nEmbd, cfg.nEmbd, { rng, std: cfg.initializerRange / Math.sqrt(2 * depth), device }));
  }

  /** x (B, T, C) → (B, T, C); with a cache, x continues the cached positions (decoder only). */
  forward(x: Tensor, cache: DecoderCache | null, layer: number): Tensor {
    const C = x.shape[2]!;
    const qkv = this.qkv.forward(x); // (B, T, 3C)
    const q = splitHeads(qkv, 0, C, this.nHead); // (B, H, T, D)
    let k = splitHeads(qkv, C, C, this.nHead);
    let v = splitHeads(qkv, 2 * C, C, this.nHead);
    if (cache) [k, v] = cache.append(layer, k, v); // (B, H, past+T, D)
    return this.outProj.forward(mergeHeads(attention(q, k, v, { causal: this.causal })));
  }
}

class CrossAttention extends Module {
  readonly qProj: Linear;
  readonly kvProj: Linear;
  readonly outProj: Linear;
  private readonly nHead: number;

  constructor(cfg: TranslatorConfig, rng: Rng, device: Device, depth: number) {
    super();
    this.nHead = cfg.nHead;
    this.qProj = this.module('q_proj', new Linear(cfg.nEmbd, cfg.nEmbd, { rng, std: cfg.initializerRange, device }));
    this.kvProj = this.module('kv_proj', new Linear(cfg.nEmbd, 2 * cfg.nEmbd, { rng, std: cfg.initializerRange, device }));
    this.outProj = this.module('out_proj', new Linear(cfg.nEmbd, cfg.nEmbd, { rng, std: cfg.initializerRange / Math.sqrt(2 * depth), device }));
  }

  /** The source's keys and values, (B, H, Ts, D) views each. */
  memoryKv(memory: Tensor): [Tensor, Tensor] {
    const C = memory.shape[2]!;
    const kv = this.kvProj.forward(memory); // (B, Ts, 2C)
    return [splitHeads(kv, 0, C, this.nHead), splitHeads(kv, C, C, this.nHead)];
  }

  /** Queries from the decoder x (B, Tt, C), keys/values from the encoder's memory (B, Ts, C) or the cache. */
  forward(x: Tensor, memory: Tensor | null, cache: DecoderCache | null, layer: number): Tensor {
    const C = x.shape[2]!;
    const q = splitHeads(this.qProj.forward(x), 0, C, this.nHead); // (B, H, Tt, D)
    let k: Tensor;
    let v: Tensor;
    if (cache) {
      k = cache.memoryKeys[layer]!;
      v = cache.memoryValues[layer]!;
    } else {
      if (!memory) throw new Error('CrossAttention: needs the encoder output or a decoder cache');
      [k, v] = this.memoryKv(memory);
    }
    // Every target position sees every source position: no mask.
    return this.outProj.forward(mergeHeads(attention(q, k, v, { causal: false })));
  }
}

class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(cfg: TranslatorConfig, rng: Rng, device: Device, depth: number) {
    super();
    const hidden = cfg.nInner ?? 4 * cfg.nEmbd;
    this.fc1 = this.module('fc1', new Linear(cfg.nEmbd, hidden, { rng, std: cfg.initializerRange, device }));
    this.fc2 = this.module('fc2', new Linear(hidden, cfg.nEmbd, { rng, std: cfg.initializerRange / Math.sqrt(2 * depth), device }));
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x))); // (B, T, C)
  }
}

class EncoderLayer extends Module {
  readonly selfAttnLayerNorm: LayerNorm;
  readonly selfAttn: SelfAttention;
  readonly finalLayerNorm: LayerNorm;
  readonly mlp: Mlp;
  readonly drop: Dropout;

  constructor(cfg: TranslatorConfig, rng: Rng, seeds: DropoutSeeds, device: Device) {
    super();
    const depth = cfg.nEncoderLayer;
    this.selfAttnLayerNorm = this.module('self_attn_layer_norm', new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon, device));
    this.selfAttn = this.module('self_attn', new SelfAttention(cfg, rng, device, false, depth));
    this.finalLayerNorm = this.module('final_layer_norm', new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon, device));
    this.mlp = this.module('mlp', new Mlp(cfg, rng, device, depth));
    this.drop = this.module('dropout', new Dropout(cfg.dropout, seeds));
  }

  forward(x: Tensor): Tensor {
    const h = add(x, this.drop.forward(this.selfAttn.forward(this.selfAttnLayerNorm.forward(x), null, 0))); // (B, Ts, C)
    return add(h, this.drop.forward(this.mlp.forward(this.finalLayerNorm.forward(h))));
  }
}

class DecoderLayer extends Module {
  readonly selfAttnLayerNorm: LayerNorm;
  readonly selfAttn: SelfAttention;
  readonly encoderAttnLayerNorm: LayerNorm;
  readonly encoderAttn: CrossAttention;
  readonly finalLayerNorm: LayerNorm;
  readonly mlp: Mlp;
  readonly drop: Dropout;

  constructor(cfg: TranslatorConfig, rng: Rng, seeds: DropoutSeeds, device: Device) {
    super();
    const depth = cfg.nDecoderLayer;
    this.selfAttnLayerNorm = this.module('self_attn_layer_norm', new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon, device));
    this.selfAttn = this.module('self_attn', new SelfAttention(cfg, rng, device, true, depth));
    this.encoderAttnLayerNorm = this.module('encoder_attn_layer_norm', new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon, device));
    this.encoderAttn = this.module('encoder_attn', new CrossAttention(cfg, rng, device, depth));
    this.finalLayerNorm = this.module('final_layer_norm', new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon, device));
    this.mlp = this.module('mlp', new Mlp(cfg, rng, device, depth));
    this.drop = this.module('dropout', new Dropout(cfg.dropout, seeds));
  }

  forward(x: Tensor, memory: Tensor | null, cache: DecoderCache | null, layer: number): Tensor {
    let h = add(x, this.drop.forward(this.selfAttn.forward(this.selfAttnLayerNorm.forward(x), cache, layer))); // (B, Tt, C)
    h = add(h, this.drop.forward(this.encoderAttn.forward(this.encoderAttnLayerNorm.forward(h), memory, cache, layer)));
    return add(h, this.drop.forward(this.mlp.forward(this.finalLayerNorm.forward(h))));
  }
}

export interface TranslatorOutput {
  /** (B, Tt, vocabSize) next-token scores. */
  logits: Tensor;
  /** Mean cross-entropy over the target positions that are not -100, when targets were given. */
  loss: Tensor | null;
}

export class Translator extends Module {
  readonly config: TranslatorConfig;
  readonly device: Device;
  /** Token embedding shared by encoder and decoder (and the output projection when tied). */
  readonly shared: Embedding;
  /** Learned position tables (null with sinusoidal positions). */
  readonly encoderPositions: Embedding | null;
  readonly decoderPositions: Embedding | null;
  /** The fixed sinusoidal table (not a parameter), or null with learned positions. */
  readonly sinusoid: Tensor | null;
  readonly embedDropout: Dropout;
  readonly encoderLayers: EncoderLayer[] = [];
  readonly encoderLayerNorm: LayerNorm;
  readonly decoderLayers: DecoderLayer[] = [];
  readonly decoderLayerNorm: LayerNorm;
  /** The output projection (C, V) when it is not tied to the embedding. */
  readonly lmHead: Linear | null;
  /** Set by the training loop each step so dropout masks are reproducible. */
  readonly dropoutSeeds = new DropoutSeeds();

  constructor(config: TranslatorConfig, opts: { seed?: number; device?: Device } = {}) {
    super();
    validateTranslatorConfig(config);
    this.config = config;
    const device = opts.device ?? defaultDevice();
    this.device = device;
    const rng = new Rng(opts.seed ?? 0);
    const C = config.nEmbd;
    // std C^-1/2, scaled by √C at the input: unit-variance token vectors next to the ±1 sinusoids,
    // and logits of unit scale from the tied output projection.
    this.shared = this.module('shared', new Embedding(config.vocabSize, C, { rng, std: C ** -0.5, device }));
    if (config.positions === 'learned') {
      this.encoderPositions = this.module('encoder.embed_positions', new Embedding(config.nPositions, C, { rng, std: C ** -0.5, device }));
      this.decoderPositions = this.module('decoder.embed_positions', new Embedding(config.nPositions, C, { rng, std: C ** -0.5, device }));
      this.sinusoid = null;
    } else {
      this.encoderPositions = this.decoderPositions = null;
      this.sinusoid = device.heapScope(() => empty(device, [config.nPositions, C]).set(sinusoidalTable(config.nPositions, C)));
    }
    this.embedDropout = this.module('embed_dropout', new Dropout(config.dropout, this.dropoutSeeds));
    for (let i = 0; i < config.nEncoderLayer; i++) this.encoderLayers.push(this.module(`encoder.layers.${i}`, new EncoderLayer(config, rng, this.dropoutSeeds, device)));
    this.encoderLayerNorm = this.module('encoder.layer_norm', new LayerNorm(C, config.layerNormEpsilon, device));
    for (let i = 0; i < config.nDecoderLayer; i++) this.decoderLayers.push(this.module(`decoder.layers.${i}`, new DecoderLayer(config, rng, this.dropoutSeeds, device)));
    this.decoderLayerNorm = this.module('decoder.layer_norm', new LayerNorm(C, config.layerNormEpsilon, device));
    this.lmHead = config.tieWordEmbeddings ? null : this.module('lm_head', new Linear(C, config.vocabSize, { rng, std: config.initializerRange, device, bias: false }));
  }

  /** √C · token embedding + position embedding of ids (B, T) at positions start…start+T-1, then dropout. */
  private embed(ids: Tensor, start: number, table: Embedding | null): Tensor {
    const T = ids.shape[1]!;
    const pos = empty(this.device, [T], 'int32');
    const pv = pos.unsafeView();
    for (let t = 0; t < T; t++) pv[t] = start + t;
    const positions = table ? table.forward(pos) : embedding(this.sinusoid!, pos); // (T, C)
    return this.embedDropout.forward(add(scale(this.shared.forward(ids), Math.sqrt(this.config.nEmbd)), positions)); // (B, T, C)
  }

  private checkIds(what: string, ids: Tensor, start = 0): void {
    if (ids.ndim !== 2 || ids.dtype !== 'int32') throw new Error(`Translator: ${what} must be int32 (batch, time), got ${ids.dtype} ${formatShape(ids.shape)}`);
    if (start + ids.shape[1]! > this.config.nPositions) {
      throw new Error(`Translator: the ${what} reach position ${start + ids.shape[1]!}, beyond the model's ${this.config.nPositions}; shorten the sentence (or split it)`);
    }
  }

  /** Source ids (B, Ts) → the encoder's output, the "memory" (B, Ts, C). */
  encode(src: Tensor): Tensor {
    this.checkIds('source ids', src);
    let x = this.embed(src, 0, this.encoderPositions);
    for (const layer of this.encoderLayers) x = layer.forward(x);
    return this.encoderLayerNorm.forward(x);
  }

  /**
   * Decoder input ids (B, Tt) → logits (B, Tt, V), reading the memory (B, Ts, C) or, with a
   * cache, the source keys/values cached by startDecoding and the past target positions.
   */
  decode(tgtIn: Tensor, memory: Tensor | null, cache: DecoderCache | null = null): Tensor {
    const start = cache ? cache.length : 0;
    this.checkIds('target ids', tgtIn, start);
    cache?.expectRoom('Translator.decode', tgtIn.shape[0]!, tgtIn.shape[1]!);
    let x = this.embed(tgtIn, start, this.decoderPositions);
    for (let i = 0; i < this.decoderLayers.length; i++) x = this.decoderLayers[i]!.forward(x, memory, cache, i);
    x = this.decoderLayerNorm.forward(x);
    cache?.advance(tgtIn.shape[1]!);
    return this.lmHead ? this.lmHead.forward(x) : matmul(x, this.shared.weight, { transB: true }); // (B, Tt, V)
  }

  /** Teacher-forced forward pass: logits for every target position, and the loss when targets (B, Tt) are given. */
  forward(src: Tensor, tgtIn: Tensor, targets: Tensor | null = null): TranslatorOutput {
    if (src.shape[0] !== tgtIn.shape[0]) throw new Error(`Translator.forward: source batch ${src.shape[0]} and target batch ${tgtIn.shape[0]} differ`);
    const logits = this.decode(tgtIn, this.encode(src));
    return { logits, loss: targets ? crossEntropy(logits, targets) : null };
  }

  /**
   * A decoder cache for incremental decoding of `batch` rows, with the cross-attention keys and
   * values of memory (1 or batch rows; one row is shared by all) computed once.
   */
  startDecoding(memory: Tensor, batch: number, maxLength: number): DecoderCache {
    const [mb, ts] = memory.shape as [number, number];
    if (mb !== 1 && mb !== batch) throw new Error(`startDecoding: memory has batch ${mb}; expected 1 or ${batch}`);
    const cache = new DecoderCache(this.config, batch, maxLength, ts, this.device);
    noGrad(() =>
      this.device.scope(() => {
        for (let i = 0; i < this.decoderLayers.length; i++) {
          const [k, v] = this.decoderLayers[i]!.encoderAttn.memoryKv(memory); // (mb, H, Ts, D)
          for (const [src, dst] of [[k, cache.memoryKeys[i]!], [v, cache.memoryValues[i]!]] as const) {
            for (let b = 0; b < batch; b++) writeSlice(dst, 0, b, slice(src, 0, mb === 1 ? 0 : b, (mb === 1 ? 0 : b) + 1));
          }
        }
      }),
    );
    return cache;
  }
}

export function validateTranslatorConfig(c: TranslatorConfig): void {
  for (const k of ['vocabSize', 'nPositions', 'nEmbd', 'nEncoderLayer', 'nDecoderLayer', 'nHead'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`translator config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`translator config: nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  if (typeof c.tieWordEmbeddings !== 'boolean') throw new Error(`translator config: tieWordEmbeddings must be true or false, got ${String(c.tieWordEmbeddings)}`);
  if (c.positions !== 'sinusoidal' && c.positions !== 'learned') throw new Error(`translator config: positions must be 'sinusoidal' or 'learned', got '${String(c.positions)}'`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`translator config: dropout must be in [0, 1), got ${c.dropout}`);
  if (c.nInner !== null && (!Number.isInteger(c.nInner) || c.nInner <= 0)) throw new Error(`translator config: nInner must be a positive integer or null, got ${c.nInner}`);
  if (!Number.isInteger(c.eosTokenId) || c.eosTokenId < 0 || c.eosTokenId >= c.vocabSize) throw new Error(`translator config: eosTokenId ${c.eosTokenId} is outside the vocabulary of ${c.vocabSize}`);
}
