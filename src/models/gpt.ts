// GPT-2 (Radford et al. 2019) in one file: learned positions, pre-LayerNorm blocks, causal
// self-attention, GELU MLP, LM head tied to the token embedding. Parameter names and layouts are
// Hugging Face's GPT2Model ones (`h.0.attn.c_attn.weight` stored (in, out) like Conv1D), so real
// GPT-2 checkpoints load by name and our checkpoints load in `transformers`. Decoding reuses past
// keys and values from a KvCache; bf16 weight packing happens inside Linear (nn/packed-weights.ts).

import type { Device } from '../backend/device.ts';
import { defaultDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { noGrad } from '../autograd/tape.ts';
import { DropoutSeeds, Dropout, Embedding, LayerNorm, Linear } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { attention } from '../ops/attention.ts';
import { add, gelu } from '../ops/elementwise.ts';
import { crossEntropy } from '../ops/layers.ts';
import { permute, reshape, slice } from '../ops/views.ts';
import { empty, formatShape, type Tensor } from '../tensor/tensor.ts';
import { KvCache } from './kv-cache.ts';

export interface GptConfig {
  /** Tokens in the vocabulary (HF `vocab_size`). */
  vocabSize: number;
  /** Longest context the position table covers (HF `n_positions`). */
  nPositions: number;
  /** Width of the residual stream, C (HF `n_embd`). */
  nEmbd: number;
  /** Transformer blocks (HF `n_layer`). */
  nLayer: number;
  /** Attention heads per block; nEmbd must divide evenly (HF `n_head`). */
  nHead: number;
  /** Hidden width of the MLP (HF `n_inner`; null means 4·nEmbd). */
  nInner: number | null;
  /** LayerNorm epsilon (HF `layer_norm_epsilon`). */
  layerNormEpsilon: number;
  /** Dropout on the embeddings' sum (HF `embd_pdrop`). */
  embdPdrop: number;
  /** Dropout on each residual branch output (HF `resid_pdrop`). */
  residPdrop: number;
  /**
   * Dropout on attention probabilities (HF `attn_pdrop`). The fused attention kernel never forms
   * the probability matrix, so training requires 0 here; inference ignores it as GPT-2 does.
   */
  attnPdrop: number;
  /** Std of the normal weight init (HF `initializer_range`). */
  initializerRange: number;
}

export function defaultGptConfig(overrides: Partial<GptConfig> = {}): GptConfig {
  return {
    vocabSize: 50257,
    nPositions: 1024,
    nEmbd: 768,
    nLayer: 12,
    nHead: 12,
    nInner: null,
    layerNormEpsilon: 1e-5,
    embdPdrop: 0.1,
    residPdrop: 0.1,
    attnPdrop: 0.1,
    initializerRange: 0.02,
    ...overrides,
  };
}

class CausalSelfAttention extends Module {
  readonly cAttn: Linear;
  readonly cProj: Linear;
  readonly residDropout: Dropout;
  private readonly nHead: number;

  constructor(cfg: GptConfig, rng: Rng, seeds: DropoutSeeds, device: Device) {
    super();
    this.nHead = cfg.nHead;
    this.cAttn = this.module('c_attn', new Linear(cfg.nEmbd, 3 * cfg.nEmbd, { rng, std: cfg.initializerRange, device }));
    // GPT-2 scales residual projections by 1/√(2·nLayer) so the residual stream's variance does not grow with depth.
    this.cProj = this.module('c_proj', new Linear(cfg.nEmbd, cfg.nEmbd, { rng, std: cfg.initializerRange / Math.sqrt(2 * cfg.nLayer), device }));
    this.residDropout = this.module('resid_dropout', new Dropout(cfg.residPdrop, seeds));
  }

  forward(x: Tensor, cache: KvCache | null, layer: number): Tensor {
    const [B, T, C] = x.shape as [number, number, number];
    const H = this.nHead;
    const D = C / H;
    const qkv = this.cAttn.forward(x); // (B, T, 3C)
    const heads = (i: number): Tensor => permute(reshape(slice(qkv, 2, i * C, (i + 1) * C), [B, T, H, D]), [0, 2, 1, 3]); // (B, H, T, D) views
    const q = heads(0);
    let k = heads(1);
    let v = heads(2);
    if (cache) [k, v] = cache.append(layer, k, v); // (B, H, past+T, D)
    const y = attention(q, k, v); // (B, H, T, D), stored as (B, T, H, D)
    const merged = reshape(permute(y, [0, 2, 1, 3]), [B, T, C]); // free: the storage is already (B, T, H, D)
    return this.residDropout.forward(this.cProj.forward(merged));
  }
}

class Mlp extends Module {
  readonly cFc: Linear;
  readonly cProj: Linear;
  readonly dropout: Dropout;

  constructor(cfg: GptConfig, rng: Rng, seeds: DropoutSeeds, device: Device) {
    super();
    const hidden = cfg.nInner ?? 4 * cfg.nEmbd;
    this.cFc = this.module('c_fc', new Linear(cfg.nEmbd, hidden, { rng, std: cfg.initializerRange, device }));
    this.cProj = this.module('c_proj', new Linear(hidden, cfg.nEmbd, { rng, std: cfg.initializerRange / Math.sqrt(2 * cfg.nLayer), device }));
    this.dropout = this.module('dropout', new Dropout(cfg.residPdrop, seeds));
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.cProj.forward(gelu(this.cFc.forward(x)))); // (B, T, C)
  }
}

class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: Mlp;

  constructor(cfg: GptConfig, rng: Rng, seeds: DropoutSeeds, device: Device) {
    super();
    this.ln1 = this.module('ln_1', new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon, device));
    this.attn = this.module('attn', new CausalSelfAttention(cfg, rng, seeds, device));
    this.ln2 = this.module('ln_2', new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon, device));
    this.mlp = this.module('mlp', new Mlp(cfg, rng, seeds, device));
  }

  forward(x: Tensor, cache: KvCache | null, layer: number): Tensor {
    const h = add(x, this.attn.forward(this.ln1.forward(x), cache, layer)); // (B, T, C)
    return add(h, this.mlp.forward(this.ln2.forward(h)));
  }
}

export interface GptOutput {
  /** (B, T, vocabSize) next-token scores. */
  logits: Tensor;
  /** Mean cross-entropy against the targets, when targets were given. */
  loss: Tensor | null;
}

export class Gpt extends Module {
  readonly config: GptConfig;
  readonly device: Device;
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly drop: Dropout;
  readonly h: Block[] = [];
  readonly lnF: LayerNorm;
  /** Set by the trainer each micro-step so dropout masks are reproducible. */
  readonly dropoutSeeds = new DropoutSeeds();
  /** LoRA's default targets: every linear layer (attention c_attn and c_proj, MLP c_fc and c_proj). */
  readonly loraTargets: readonly string[] = ['c_attn', 'c_proj', 'c_fc'];
  /** What Hugging Face's GPT2LMHeadModel puts before these module names (PEFT adapters carry it). */
  readonly hfNamePrefix = 'transformer.';

  constructor(config: GptConfig, opts: { seed?: number; device?: Device } = {}) {
    super();
    validateConfig(config);
    this.config = config;
    const device = opts.device ?? defaultDevice();
    this.device = device;
    const rng = new Rng(opts.seed ?? 0);
    const seeds = this.dropoutSeeds;
    this.wte = this.module('wte', new Embedding(config.vocabSize, config.nEmbd, { rng, std: config.initializerRange, device }));
    this.wpe = this.module('wpe', new Embedding(config.nPositions, config.nEmbd, { rng, std: 0.01, device }));
    this.drop = this.module('drop', new Dropout(config.embdPdrop, seeds));
    for (let i = 0; i < config.nLayer; i++) this.h.push(this.module(`h.${i}`, new Block(config, rng, seeds, device)));
    this.lnF = this.module('ln_f', new LayerNorm(config.nEmbd, config.layerNormEpsilon, device));
  }

  /**
   * ids (B, T) int32 → logits (B, T, V), and the mean cross-entropy when targets (B, T) are
   * given (targets of -100 are ignored). With a cache, ids continue the cached positions.
   */
  forward(ids: Tensor, targets: Tensor | null = null, cache: KvCache | null = null): GptOutput {
    if (ids.ndim !== 2 || ids.dtype !== 'int32') throw new Error(`Gpt.forward: ids must be int32 (batch, time), got ${ids.dtype} ${formatShape(ids.shape)}`);
    const [B, T] = ids.shape as [number, number];
    const start = cache ? cache.length : 0;
    if (start + T > this.config.nPositions) {
      throw new Error(`Gpt.forward: ${start + T} positions exceed the model's context of ${this.config.nPositions}; shorten the input`);
    }
    cache?.expectRoom('Gpt.forward', B, T);
    const pos = empty(this.device, [T], 'int32');
    const pv = pos.unsafeView();
    for (let t = 0; t < T; t++) pv[t] = start + t;
    let x = this.drop.forward(add(this.wte.forward(ids), this.wpe.forward(pos))); // (B, T, C)
    for (let i = 0; i < this.h.length; i++) x = this.h[i]!.forward(x, cache, i);
    x = this.lnF.forward(x);
    const logits = this.wte.attend(x); // (B, T, V), head tied to wte
    cache?.advance(T);
    const loss = targets ? crossEntropy(logits, targets) : null;
    return { logits, loss };
  }

  /** Positions the model attends over (n_positions). */
  get contextLength(): number {
    return this.config.nPositions;
  }

  /** A KV cache for decoding `batch` sequences of up to maxLength positions with this model. */
  createCache(batch: number, maxLength = this.config.nPositions): KvCache {
    if (maxLength > this.config.nPositions) throw new Error(`Gpt.createCache: maxLength ${maxLength} exceeds the model's context of ${this.config.nPositions}`);
    const c = this.config;
    return new KvCache({ layers: c.nLayer, batch, heads: c.nHead, headDim: c.nEmbd / c.nHead, maxLength }, this.device);
  }

  /** Parameters excluding token and position embeddings (the N of Kaplan et al.'s scaling laws). */
  numNonEmbeddingParameters(): number {
    return this.numParameters() - this.wpe.weight.size - this.wte.weight.size;
  }

  /** Logits of a batch without recording gradients. */
  logits(ids: Tensor): Tensor {
    return noGrad(() => this.forward(ids).logits);
  }
}

function validateConfig(c: GptConfig): void {
  const positive = ['vocabSize', 'nPositions', 'nEmbd', 'nLayer', 'nHead'] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`GPT config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`GPT config: nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  for (const k of ['embdPdrop', 'residPdrop', 'attnPdrop'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) throw new Error(`GPT config: ${k} must be in [0, 1), got ${c[k]}`);
  }
  if (c.nInner !== null && (!Number.isInteger(c.nInner) || c.nInner <= 0)) throw new Error(`GPT config: nInner must be a positive integer or null, got ${c.nInner}`);
}
