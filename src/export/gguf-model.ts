// genlab's architectures in llama.cpp's terms, both ways: GGUF tensor names and layouts, and the
// hyperparameter keys llama.cpp reads (src/models/<arch>.cpp, gguf-py's constants and
// convert_hf_to_gguf.py for the conventions).
//
// GPT-2 (arch "gpt2"): HF Conv1D weights are (in, out); ggml wants (out, in) rows of `in`
// values, so c_attn/c_proj/c_fc are transposed. The LM head is tied, so there is no `output`.
// Llama family: "llama" for Llama and Mistral, "qwen2", "qwen3". transformers rotates the two
// halves of each head (rotate-half); llama.cpp's "llama" rope type (NORM) rotates adjacent pairs,
// so llama.cpp's converter reorders the rows of q_proj/k_proj (and their biases) head by head:
// row h·D + 2i + j ← row h·D + j·D/2 + i. Qwen2/Qwen3 use llama.cpp's NEOX rope, which is
// rotate-half already, and keep the rows as they are.
// Llama 3's rope_scaling becomes the `rope_freqs` tensor: per frequency, the divisor llama.cpp
// applies, computed here from genlab's own ropeInverseFrequencies so both engines agree.

import type { LoadedLlama, LoadedModel } from '../io/model-folder.ts';
import { gguf, type GgufReader, type GgufValue } from '../io/gguf.ts';
import { Gpt } from '../models/gpt.ts';
import { ropeInverseFrequencies, type LlamaConfig } from '../models/llama.ts';

/** One tensor to export, as float32 values in GGUF's row-major layout. */
export interface ExportTensor {
  name: string;
  shape: number[];
  /** "weight": stored in the requested type; "f32": norms, biases, positions and rope factors stay float32, as llama.cpp's converter keeps them. */
  role: 'weight' | 'f32';
  values: () => Float32Array;
}

export interface ExportModel {
  arch: 'gpt2' | 'llama' | 'qwen2' | 'qwen3';
  metadata: [string, GgufValue][];
  tensors: ExportTensor[];
  /** What llama.cpp will compute differently (said to the user; the file is still written). */
  notes: string[];
  vocabSize: number;
  contextLength: number;
}

/** (rows, cols) row-major → (cols, rows). */
export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/**
 * Reorders the rows of a q/k projection (heads·D rows of `cols` values) between rotate-half
 * (HF) and adjacent-pair (llama.cpp NORM) order; `inverse` undoes it.
 */
export function permuteRope(x: Float32Array, heads: number, headDim: number, cols: number, inverse = false): Float32Array {
  const out = new Float32Array(x.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const ggml = h * headDim + 2 * i + j;
        const hf = h * headDim + j * half + i;
        const [to, from] = inverse ? [hf, ggml] : [ggml, hf];
        out.set(x.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

function param(lm: { model: { stateDict(): Map<string, { toArray(): Float32Array | Int32Array; shape: readonly number[] }> } }): (name: string) => { values: () => Float32Array; shape: number[] } {
  const dict = lm.model.stateDict();
  return (name) => {
    const t = dict.get(name);
    if (!t) throw new Error(`the model has no parameter ${name}`);
    return { values: () => t.toArray() as Float32Array, shape: [...t.shape] };
  };
}

export function gpt2ToGguf(lm: LoadedModel): ExportModel {
  const c = lm.model.config;
  const p = param(lm);
  const C = c.nEmbd;
  const ff = c.nInner ?? 4 * C;
  const tensors: ExportTensor[] = [];
  const plain = (name: string, from: string, role: ExportTensor['role']): void => {
    const t = p(from);
    tensors.push({ name, shape: t.shape, role, values: t.values });
  };
  // Conv1D (in, out) → (out, in).
  const conv = (name: string, from: string): void => {
    const t = p(from);
    const [rows, cols] = t.shape as [number, number];
    tensors.push({ name, shape: [cols, rows], role: 'weight', values: () => transpose(t.values(), rows, cols) });
  };
  plain('token_embd.weight', 'wte.weight', 'weight');
  plain('position_embd.weight', 'wpe.weight', 'f32');
  plain('output_norm.weight', 'ln_f.weight', 'f32');
  plain('output_norm.bias', 'ln_f.bias', 'f32');
  for (let i = 0; i < c.nLayer; i++) {
    const h = `h.${i}`;
    const b = `blk.${i}`;
    plain(`${b}.attn_norm.weight`, `${h}.ln_1.weight`, 'f32');
    plain(`${b}.attn_norm.bias`, `${h}.ln_1.bias`, 'f32');
    conv(`${b}.attn_qkv.weight`, `${h}.attn.c_attn.weight`);
    plain(`${b}.attn_qkv.bias`, `${h}.attn.c_attn.bias`, 'f32');
    conv(`${b}.attn_output.weight`, `${h}.attn.c_proj.weight`);
    plain(`${b}.attn_output.bias`, `${h}.attn.c_proj.bias`, 'f32');
    plain(`${b}.ffn_norm.weight`, `${h}.ln_2.weight`, 'f32');
    plain(`${b}.ffn_norm.bias`, `${h}.ln_2.bias`, 'f32');
    conv(`${b}.ffn_up.weight`, `${h}.mlp.c_fc.weight`);
    plain(`${b}.ffn_up.bias`, `${h}.mlp.c_fc.bias`, 'f32');
    conv(`${b}.ffn_down.weight`, `${h}.mlp.c_proj.weight`);
    plain(`${b}.ffn_down.bias`, `${h}.mlp.c_proj.bias`, 'f32');
  }
  const metadata: [string, GgufValue][] = [
    ['gpt2.context_length', gguf.u32(c.nPositions)],
    ['gpt2.embedding_length', gguf.u32(C)],
    ['gpt2.feed_forward_length', gguf.u32(ff)],
    ['gpt2.block_count', gguf.u32(c.nLayer)],
    ['gpt2.attention.head_count', gguf.u32(c.nHead)],
    ['gpt2.attention.layer_norm_epsilon', gguf.f32(c.layerNormEpsilon)],
  ];
  return { arch: 'gpt2', metadata, tensors, notes: [], vocabSize: c.vocabSize, contextLength: c.nPositions };
}

const LLAMA_ARCH: Record<LlamaConfig['modelType'], ExportModel['arch']> = { llama: 'llama', mistral: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };

export function llamaToGguf(lm: LoadedLlama): ExportModel {
  const c = lm.model.config;
  const arch = LLAMA_ARCH[c.modelType];
  const p = param(lm);
  const D = c.headDim;
  const tensors: ExportTensor[] = [];
  const notes: string[] = [];
  const add = (name: string, from: string, role: ExportTensor['role'], heads = 0): void => {
    const t = p(from);
    const cols = t.shape.length === 2 ? t.shape[1]! : 1;
    const values = arch === 'llama' && heads > 0 ? () => permuteRope(t.values(), heads, D, cols) : t.values;
    tensors.push({ name, shape: t.shape, role, values });
  };
  add('token_embd.weight', 'model.embed_tokens.weight', 'weight');
  add('output_norm.weight', 'model.norm.weight', 'f32');
  if (!c.tieWordEmbeddings) add('output.weight', 'lm_head.weight', 'weight');
  if (c.ropeScaling?.type === 'llama3') {
    const plainInv = ropeInverseFrequencies({ ...c, ropeScaling: null }, 1);
    const scaled = ropeInverseFrequencies(c, 1);
    tensors.push({ name: 'rope_freqs.weight', shape: [D / 2], role: 'f32', values: () => Float32Array.from(plainInv, (v, i) => v / scaled[i]!) });
  }
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `model.layers.${i}`;
    const b = `blk.${i}`;
    add(`${b}.attn_norm.weight`, `${l}.input_layernorm.weight`, 'f32');
    add(`${b}.attn_q.weight`, `${l}.self_attn.q_proj.weight`, 'weight', c.numAttentionHeads);
    add(`${b}.attn_k.weight`, `${l}.self_attn.k_proj.weight`, 'weight', c.numKeyValueHeads);
    add(`${b}.attn_v.weight`, `${l}.self_attn.v_proj.weight`, 'weight');
    if (c.qkvBias) {
      add(`${b}.attn_q.bias`, `${l}.self_attn.q_proj.bias`, 'f32', c.numAttentionHeads);
      add(`${b}.attn_k.bias`, `${l}.self_attn.k_proj.bias`, 'f32', c.numKeyValueHeads);
      add(`${b}.attn_v.bias`, `${l}.self_attn.v_proj.bias`, 'f32');
    }
    add(`${b}.attn_output.weight`, `${l}.self_attn.o_proj.weight`, 'weight');
    if (c.oBias) add(`${b}.attn_output.bias`, `${l}.self_attn.o_proj.bias`, 'f32');
    if (c.qkNorm) {
      add(`${b}.attn_q_norm.weight`, `${l}.self_attn.q_norm.weight`, 'f32');
      add(`${b}.attn_k_norm.weight`, `${l}.self_attn.k_norm.weight`, 'f32');
    }
    add(`${b}.ffn_norm.weight`, `${l}.post_attention_layernorm.weight`, 'f32');
    add(`${b}.ffn_gate.weight`, `${l}.mlp.gate_proj.weight`, 'weight');
    add(`${b}.ffn_up.weight`, `${l}.mlp.up_proj.weight`, 'weight');
    add(`${b}.ffn_down.weight`, `${l}.mlp.down_proj.weight`, 'weight');
    if (c.mlpBias) {
      add(`${b}.ffn_gate.bias`, `${l}.mlp.gate_proj.bias`, 'f32');
      add(`${b}.ffn_up.bias`, `${l}.mlp.up_proj.bias`, 'f32');
      add(`${b}.ffn_down.bias`, `${l}.mlp.down_proj.bias`, 'f32');
    }
  }
  const k = (key: string): string => `${arch}.${key}`;
  const metadata: [string, GgufValue][] = [
    [k('vocab_size'), gguf.u32(c.vocabSize)],
    [k('context_length'), gguf.u32(c.maxPositionEmbeddings)],
    [k('embedding_length'), gguf.u32(c.hiddenSize)],
    [k('block_count'), gguf.u32(c.numHiddenLayers)],
    [k('feed_forward_length'), gguf.u32(c.intermediateSize)],
    [k('attention.head_count'), gguf.u32(c.numAttentionHeads)],
    [k('attention.head_count_kv'), gguf.u32(c.numKeyValueHeads)],
    [k('attention.key_length'), gguf.u32(D)],
    [k('attention.value_length'), gguf.u32(D)],
    [k('attention.layer_norm_rms_epsilon'), gguf.f32(c.rmsNormEps)],
    [k('rope.freq_base'), gguf.f32(c.ropeTheta)],
    [k('rope.dimension_count'), gguf.u32(D)],
  ];
  const s = c.ropeScaling;
  if (s?.type === 'linear') metadata.push([k('rope.scaling.type'), gguf.str('linear')], [k('rope.scaling.factor'), gguf.f32(s.factor)]);
  if (s?.type === 'dynamic') {
    notes.push(`rope_scaling "dynamic" has no llama.cpp equivalent; the file uses plain RoPE, which is what genlab computes up to max_position_embeddings (${c.maxPositionEmbeddings}), the file's context length`);
  }
  if (c.slidingWindow !== null) {
    notes.push(`llama.cpp's ${arch} architecture has no sliding window: its outputs match genlab's for sequences of up to ${c.slidingWindow} tokens (sliding_window) and differ beyond`);
  }
  return { arch, metadata, tensors, notes, vocabSize: c.vocabSize, contextLength: c.maxPositionEmbeddings };
}

export function modelToGguf(lm: LoadedModel | LoadedLlama): ExportModel {
  return lm.model instanceof Gpt ? gpt2ToGguf(lm as LoadedModel) : llamaToGguf(lm as LoadedLlama);
}

// ---------------------------------------------------------------------------------------------
// GGUF → Hugging Face folder

export interface ImportedModel {
  /** config.json (without token ids; the importer adds them). */
  config: Record<string, unknown>;
  /** HF tensor names with row-major shapes and float32 values, read when written; `source` is the GGUF tensor. */
  tensors: { name: string; source: string; shape: number[]; values: () => Float32Array }[];
}

/** A metadata value's plain JS form (arrays as arrays, u64 as number). */
export function ggufGet(r: GgufReader, key: string): unknown {
  const v = r.get(key);
  if (v === undefined) return undefined;
  if (typeof v.value === 'bigint') return Number(v.value);
  return v.value;
}

function need(r: GgufReader, key: string): number {
  const v = ggufGet(r, key);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${r.file} has no numeric ${key}; it is not a complete llama.cpp model file`);
  return v;
}

export function gpt2FromGguf(r: GgufReader): ImportedModel {
  const nEmbd = need(r, 'gpt2.embedding_length');
  const nLayer = need(r, 'gpt2.block_count');
  const vocab = r.info('token_embd.weight').shape[0]!;
  const ff = need(r, 'gpt2.feed_forward_length');
  if (r.has('output.weight')) {
    const out = r.readF32('output.weight');
    const emb = r.readF32('token_embd.weight');
    if (out.length !== emb.length || out.some((v, i) => v !== emb[i])) throw new Error(`${r.file} has an output.weight that differs from token_embd.weight; genlab's GPT-2 ties its LM head to the token embedding`);
  }
  const tensors: ImportedModel['tensors'] = [];
  const plain = (name: string, from: string): void => {
    const info = r.info(from);
    tensors.push({ name, source: from, shape: info.shape, values: () => r.readF32(from) });
  };
  const conv = (name: string, from: string): void => {
    const [rows, cols] = r.info(from).shape as [number, number];
    tensors.push({ name, source: from, shape: [cols, rows], values: () => transpose(r.readF32(from), rows, cols) });
  };
  plain('wte.weight', 'token_embd.weight');
  plain('wpe.weight', 'position_embd.weight');
  plain('ln_f.weight', 'output_norm.weight');
  plain('ln_f.bias', 'output_norm.bias');
  for (let i = 0; i < nLayer; i++) {
    const h = `h.${i}`;
    const b = `blk.${i}`;
    plain(`${h}.ln_1.weight`, `${b}.attn_norm.weight`);
    plain(`${h}.ln_1.bias`, `${b}.attn_norm.bias`);
    conv(`${h}.attn.c_attn.weight`, `${b}.attn_qkv.weight`);
    plain(`${h}.attn.c_attn.bias`, `${b}.attn_qkv.bias`);
    conv(`${h}.attn.c_proj.weight`, `${b}.attn_output.weight`);
    plain(`${h}.attn.c_proj.bias`, `${b}.attn_output.bias`);
    plain(`${h}.ln_2.weight`, `${b}.ffn_norm.weight`);
    plain(`${h}.ln_2.bias`, `${b}.ffn_norm.bias`);
    conv(`${h}.mlp.c_fc.weight`, `${b}.ffn_up.weight`);
    plain(`${h}.mlp.c_fc.bias`, `${b}.ffn_up.bias`);
    conv(`${h}.mlp.c_proj.weight`, `${b}.ffn_down.weight`);
    plain(`${h}.mlp.c_proj.bias`, `${b}.ffn_down.bias`);
  }
  const config: Record<string, unknown> = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    vocab_size: vocab,
    n_positions: need(r, 'gpt2.context_length'),
    n_embd: nEmbd,
    n_layer: nLayer,
    n_head: need(r, 'gpt2.attention.head_count'),
    n_inner: ff === 4 * nEmbd ? null : ff,
    layer_norm_epsilon: need(r, 'gpt2.attention.layer_norm_epsilon'),
    embd_pdrop: 0,
    resid_pdrop: 0,
    attn_pdrop: 0,
    tie_word_embeddings: true,
  };
  return { config, tensors };
}

/** Llama 3's rope_scaling, recovered from a rope_freqs tensor when it follows Llama 3's rule. */
function llama3ScalingFromFactors(r: GgufReader, arch: string, factors: Float32Array, headDim: number, theta: number): Record<string, unknown> {
  const factor = Math.max(...factors);
  const orig = ggufGet(r, `${arch}.rope.scaling.original_context_length`);
  const scaling = { rope_type: 'llama3', factor, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: typeof orig === 'number' ? orig : 8192 };
  const cfg = { headDim, ropeTheta: theta, maxPositionEmbeddings: 1, ropeScaling: null } as unknown as LlamaConfig;
  const plainInv = ropeInverseFrequencies(cfg, 1);
  const scaled = ropeInverseFrequencies({ ...cfg, ropeScaling: { type: 'llama3', factor, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: scaling.original_max_position_embeddings } }, 1);
  const fits = factors.every((f, i) => Math.abs(plainInv[i]! / scaled[i]! - f) <= 1e-4 * f);
  if (!fits) throw new Error(`${r.file}: rope_freqs does not follow Llama 3's rope scaling with factor ${factor}, low/high frequency factors 1/4 and original context ${scaling.original_max_position_embeddings}; genlab cannot express these frequencies`);
  return scaling;
}

export function llamaFromGguf(r: GgufReader, arch: 'llama' | 'qwen2' | 'qwen3'): ImportedModel {
  const k = (key: string): string => `${arch}.${key}`;
  const hidden = need(r, k('embedding_length'));
  const heads = need(r, k('attention.head_count'));
  const kvHeads = (ggufGet(r, k('attention.head_count_kv')) as number | undefined) ?? heads;
  const headDim = (ggufGet(r, k('attention.key_length')) as number | undefined) ?? hidden / heads;
  const layers = need(r, k('block_count'));
  const theta = (ggufGet(r, k('rope.freq_base')) as number | undefined) ?? 10000;
  const vocab = r.info('token_embd.weight').shape[0]!;
  const tied = !r.has('output.weight');
  const ropeDims = ggufGet(r, k('rope.dimension_count'));
  if (typeof ropeDims === 'number' && ropeDims !== headDim) throw new Error(`${r.file}: rope.dimension_count ${ropeDims} differs from the head size ${headDim}; genlab rotates whole heads`);
  let ropeScaling: Record<string, unknown> | null = null;
  const scalingType = ggufGet(r, k('rope.scaling.type'));
  if (scalingType === 'linear') ropeScaling = { rope_type: 'linear', factor: need(r, k('rope.scaling.factor')) };
  else if (scalingType !== undefined && scalingType !== 'none') throw new Error(`${r.file}: rope scaling "${String(scalingType)}" is not supported; genlab implements linear and Llama 3 scaling`);
  if (r.has('rope_freqs.weight')) ropeScaling = llama3ScalingFromFactors(r, arch, r.readF32('rope_freqs.weight'), headDim, theta);

  const tensors: ImportedModel['tensors'] = [];
  const add = (name: string, from: string, permuteHeads = 0): void => {
    const info = r.info(from);
    const cols = info.shape.length === 2 ? info.shape[1]! : 1;
    const values = arch === 'llama' && permuteHeads > 0 ? () => permuteRope(r.readF32(from), permuteHeads, headDim, cols, true) : () => r.readF32(from);
    tensors.push({ name, source: from, shape: info.shape, values });
  };
  const opt = (name: string, from: string, permuteHeads = 0): boolean => {
    if (!r.has(from)) return false;
    add(name, from, permuteHeads);
    return true;
  };
  add('model.embed_tokens.weight', 'token_embd.weight');
  add('model.norm.weight', 'output_norm.weight');
  if (!tied) add('lm_head.weight', 'output.weight');
  let qkvBias = false;
  let oBias = false;
  let mlpBias = false;
  for (let i = 0; i < layers; i++) {
    const l = `model.layers.${i}`;
    const b = `blk.${i}`;
    add(`${l}.input_layernorm.weight`, `${b}.attn_norm.weight`);
    add(`${l}.self_attn.q_proj.weight`, `${b}.attn_q.weight`, heads);
    add(`${l}.self_attn.k_proj.weight`, `${b}.attn_k.weight`, kvHeads);
    add(`${l}.self_attn.v_proj.weight`, `${b}.attn_v.weight`);
    qkvBias = opt(`${l}.self_attn.q_proj.bias`, `${b}.attn_q.bias`, heads);
    opt(`${l}.self_attn.k_proj.bias`, `${b}.attn_k.bias`, kvHeads);
    opt(`${l}.self_attn.v_proj.bias`, `${b}.attn_v.bias`);
    add(`${l}.self_attn.o_proj.weight`, `${b}.attn_output.weight`);
    oBias = opt(`${l}.self_attn.o_proj.bias`, `${b}.attn_output.bias`);
    opt(`${l}.self_attn.q_norm.weight`, `${b}.attn_q_norm.weight`);
    opt(`${l}.self_attn.k_norm.weight`, `${b}.attn_k_norm.weight`);
    add(`${l}.post_attention_layernorm.weight`, `${b}.ffn_norm.weight`);
    add(`${l}.mlp.gate_proj.weight`, `${b}.ffn_gate.weight`);
    add(`${l}.mlp.up_proj.weight`, `${b}.ffn_up.weight`);
    add(`${l}.mlp.down_proj.weight`, `${b}.ffn_down.weight`);
    mlpBias = opt(`${l}.mlp.gate_proj.bias`, `${b}.ffn_gate.bias`);
    opt(`${l}.mlp.up_proj.bias`, `${b}.ffn_up.bias`);
    opt(`${l}.mlp.down_proj.bias`, `${b}.ffn_down.bias`);
  }
  if (arch === 'llama' && qkvBias !== oBias) throw new Error(`${r.file}: q/k/v biases without an output bias (or the reverse) cannot be written as a Llama config.json (attention_bias covers all four)`);
  if (arch === 'qwen2' && oBias) throw new Error(`${r.file}: a qwen2 model with an attention output bias is not a Qwen2 checkpoint genlab can express`);
  const architectures = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[arch];
  const config: Record<string, unknown> = {
    architectures: [architectures],
    model_type: arch,
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: need(r, k('feed_forward_length')),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    hidden_act: 'silu',
    max_position_embeddings: need(r, k('context_length')),
    rms_norm_eps: need(r, k('attention.layer_norm_rms_epsilon')),
    rope_theta: theta,
    rope_scaling: ropeScaling,
    tie_word_embeddings: tied,
    torch_dtype: 'float32',
    ...(arch === 'llama' ? { attention_bias: qkvBias, mlp_bias: mlpBias } : {}),
    ...(arch === 'qwen3' ? { attention_bias: false } : {}),
    ...(arch !== 'llama' ? { use_sliding_window: false } : {}),
  };
  return { config, tensors };
}
