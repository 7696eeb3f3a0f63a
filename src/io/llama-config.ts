// Hugging Face `config.json` of LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and
// Qwen3ForCausalLM → LlamaConfig. Each family's defaults are transformers' for keys a file may
// omit; the shape keys every Hub config carries are required. Anything the model would compute
// differently from transformers (another activation, a rope_scaling type genlab lacks) is refused
// with the key's name instead of loading a model that silently disagrees.

import type { LlamaConfig, RopeScaling } from '../models/llama.ts';
import { validateLlamaConfig } from '../models/llama.ts';
import { HfConfigError, LLAMA_MODEL_TYPES, readJsonFile, resolveJsonPath } from './hf-config.ts';

type ModelType = (typeof LLAMA_MODEL_TYPES)[number];

/** transformers' defaults for keys a family's config may leave out. */
const FAMILY_DEFAULTS: Record<ModelType, { maxPositionEmbeddings: number; rmsNormEps: number; ropeTheta: number; slidingWindow: number | null }> = {
  llama: { maxPositionEmbeddings: 2048, rmsNormEps: 1e-6, ropeTheta: 10000, slidingWindow: null },
  mistral: { maxPositionEmbeddings: 4096 * 32, rmsNormEps: 1e-6, ropeTheta: 10000, slidingWindow: 4096 },
  qwen2: { maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, ropeTheta: 10000, slidingWindow: 4096 },
  qwen3: { maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, ropeTheta: 10000, slidingWindow: 4096 },
};

/** A validated Llama-family config.json; `file` names the source in error messages. */
export function llamaConfigFromJson(json: unknown, file = 'config.json'): LlamaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new HfConfigError(file, 'must contain a JSON object of config keys');
  const o = json as Record<string, unknown>;
  const modelType = o.model_type;
  if (!(LLAMA_MODEL_TYPES as readonly unknown[]).includes(modelType)) {
    throw new HfConfigError(file, `is ${JSON.stringify(modelType)}; this reader takes ${LLAMA_MODEL_TYPES.join(', ')}`, 'model_type');
  }
  const type = modelType as ModelType;
  const defaults = FAMILY_DEFAULTS[type];
  const posInt = (key: string, def?: number): number => {
    const v = o[key] ?? def;
    if (v === undefined) throw new HfConfigError(file, `is missing; every ${type} config.json sets it`, key);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new HfConfigError(file, `must be a positive integer; got ${JSON.stringify(v)}`, key);
    return v as number;
  };
  const positive = (key: string, def: number): number => {
    const v = o[key] ?? def;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new HfConfigError(file, `must be a positive number; got ${JSON.stringify(v)}`, key);
    return v;
  };
  const flag = (key: string, def: boolean): boolean => {
    const v = o[key] ?? def;
    if (typeof v !== 'boolean') throw new HfConfigError(file, `must be true or false; got ${JSON.stringify(v)}`, key);
    return v;
  };
  const act = o.hidden_act ?? 'silu';
  if (act !== 'silu') throw new HfConfigError(file, `is ${JSON.stringify(act)}; genlab's Llama-family MLP implements only "silu" (SwiGLU)`, 'hidden_act');

  const hiddenSize = posInt('hidden_size');
  const heads = posInt('num_attention_heads');
  const attentionBias = type === 'llama' || type === 'qwen3' ? flag('attention_bias', false) : false;
  // Mistral always windows (null turns it off); Qwen only with use_sliding_window.
  const windowed = type === 'mistral' || (type !== 'llama' && flag('use_sliding_window', false));
  const window = o.sliding_window === undefined ? defaults.slidingWindow : o.sliding_window;
  if (windowed && window !== null && (!Number.isSafeInteger(window) || (window as number) <= 0)) {
    throw new HfConfigError(file, `must be a positive integer or null; got ${JSON.stringify(window)}`, 'sliding_window');
  }
  if (!Number.isInteger(hiddenSize / heads) && (o.head_dim === undefined || o.head_dim === null)) {
    throw new HfConfigError(file, `is not set and hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${heads}); set head_dim`, 'head_dim');
  }
  const maxPositionEmbeddings = posInt('max_position_embeddings', defaults.maxPositionEmbeddings);
  const numHiddenLayers = posInt('num_hidden_layers');
  const config: LlamaConfig = {
    modelType: type,
    vocabSize: posInt('vocab_size'),
    hiddenSize,
    intermediateSize: posInt('intermediate_size'),
    numHiddenLayers,
    numAttentionHeads: heads,
    numKeyValueHeads: posInt('num_key_value_heads', heads),
    headDim: posInt('head_dim', hiddenSize / heads),
    maxPositionEmbeddings,
    rmsNormEps: positive('rms_norm_eps', defaults.rmsNormEps),
    ropeTheta: positive('rope_theta', defaults.ropeTheta),
    ropeScaling: ropeScalingFromJson(o.rope_scaling, file),
    qkvBias: type === 'qwen2' || attentionBias,
    oBias: attentionBias,
    mlpBias: type === 'llama' ? flag('mlp_bias', false) : false,
    qkNorm: type === 'qwen3',
    tieWordEmbeddings: flag('tie_word_embeddings', false),
    slidingWindow: windowed ? (window as number | null) : null,
    maxWindowLayers: type === 'mistral' || !windowed ? 0 : firstWindowedLayer(o, numHiddenLayers, file),
    initializerRange: positive('initializer_range', 0.02),
  };
  try {
    validateLlamaConfig(config);
  } catch (err) {
    throw new HfConfigError(file, (err as Error).message.replace(/^Llama config: /, ''));
  }
  return config;
}

/**
 * Qwen2/Qwen3 with use_sliding_window: the window applies from layer max_window_layers on (28 when
 * absent, transformers' default), unless `layer_types` lists each layer's kind, which then decides.
 */
function firstWindowedLayer(o: Record<string, unknown>, layers: number, file: string): number {
  const types = o.layer_types;
  if (types === undefined || types === null) {
    const v = o.max_window_layers ?? 28;
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw new HfConfigError(file, `must be a non-negative integer; got ${JSON.stringify(v)}`, 'max_window_layers');
    return v as number;
  }
  const kinds = ['full_attention', 'sliding_attention'];
  if (!Array.isArray(types) || types.length !== layers || !types.every((t) => kinds.includes(t as string))) {
    throw new HfConfigError(file, `must list "full_attention" or "sliding_attention" for each of the ${layers} layers; got ${JSON.stringify(types)}`, 'layer_types');
  }
  const first = types.indexOf('sliding_attention');
  const from = first < 0 ? layers : first;
  if (types.slice(from).some((t) => t !== 'sliding_attention')) {
    throw new HfConfigError(file, `mixes full and sliding layers after layer ${from}; genlab windows every layer from one index on (max_window_layers), so it cannot load ${JSON.stringify(types)}`, 'layer_types');
  }
  return from;
}

function ropeScalingFromJson(v: unknown, file: string): RopeScaling | null {
  if (v === undefined || v === null) return null;
  const key = 'rope_scaling';
  if (typeof v !== 'object' || Array.isArray(v)) throw new HfConfigError(file, `must be null or an object like {"rope_type": "linear", "factor": 2}; got ${JSON.stringify(v)}`, key);
  const s = v as Record<string, unknown>;
  const type = s.rope_type ?? s.type;
  const num = (k: string): number => {
    const x = s[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new HfConfigError(file, `needs a positive number "${k}"; got ${JSON.stringify(x)}`, key);
    return x;
  };
  switch (type) {
    case 'default':
      return null;
    case 'linear':
    case 'dynamic':
      return { type, factor: num('factor') };
    case 'llama3':
      return { type, factor: num('factor'), lowFreqFactor: num('low_freq_factor'), highFreqFactor: num('high_freq_factor'), originalMaxPositionEmbeddings: num('original_max_position_embeddings') };
    default:
      throw new HfConfigError(file, `type ${JSON.stringify(type)} is not supported; genlab implements "linear", "dynamic" and "llama3"`, key);
  }
}

/** Read a Llama-family `config.json` from a model folder (or a path to the file itself). */
export function readLlamaConfig(pathOrDir: string): LlamaConfig {
  const file = resolveJsonPath(pathOrDir, 'config.json');
  return llamaConfigFromJson(readJsonFile(file), file);
}

/**
 * config.json of a LlamaForCausalLM (what genlab writes after training one): transformers' keys,
 * so the folder loads in `transformers` and back through llamaConfigFromJson unchanged. Only
 * model_type "llama" is written; the other families' switches have no Llama key.
 */
export function llamaConfigToJson(c: LlamaConfig, tokens: { bosTokenId: number | null; eosTokenId: number | null }): Record<string, unknown> {
  if (c.modelType !== 'llama') throw new Error(`genlab writes Llama configs only (model_type "llama"); this config is ${JSON.stringify(c.modelType)}`);
  if (c.qkNorm || c.slidingWindow !== null || c.qkvBias !== c.oBias) {
    throw new Error('this config has switches LlamaForCausalLM cannot express (q/k norm, a sliding window, or a q/k/v bias without an output bias); it is not a Llama config');
  }
  const s = c.ropeScaling;
  const ropeScaling =
    s === null
      ? null
      : s.type === 'llama3'
        ? { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositionEmbeddings }
        : { rope_type: s.type, factor: s.factor };
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    max_position_embeddings: c.maxPositionEmbeddings,
    initializer_range: c.initializerRange,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: ropeScaling,
    attention_bias: c.qkvBias,
    attention_dropout: 0.0,
    mlp_bias: c.mlpBias,
    pretraining_tp: 1,
    tie_word_embeddings: c.tieWordEmbeddings,
    use_cache: true,
    bos_token_id: tokens.bosTokenId,
    eos_token_id: tokens.eosTokenId,
    torch_dtype: 'float32',
  };
}
