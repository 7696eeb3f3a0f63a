// Hugging Face GPT-2 `config.json` and `generation_config.json`.
// Keys are validated one by one so a bad file fails with the key name and a fix, not later as a
// shape mismatch deep inside model construction. Missing keys take GPT2Config's defaults, as
// transformers does; keys genlab does not interpret are kept in `extra` and written back, so a
// Hub config survives a load/save round trip.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GenerationConfig } from '../generate/generation-config.ts';
import type { GptConfig } from '../models/gpt.ts';
import { writeJsonAtomic } from '../util/atomic.ts';

export type { GenerationConfig };

export class HfConfigError extends Error {
  readonly file: string;
  readonly key: string | undefined;
  constructor(file: string, message: string, key?: string) {
    super(`${file}: ${key !== undefined ? `"${key}" ` : ''}${message}`);
    this.name = 'HfConfigError';
    this.file = file;
    this.key = key;
  }
}

/** model_type values of the Llama family (src/io/llama-config.ts). */
export const LLAMA_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;

/** Activation names transformers' ACT2FN accepts (the model decides which it implements). */
export const HF_ACTIVATIONS = [
  'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'gelu_python', 'gelu_accurate', 'gelu_10',
  'quick_gelu', 'relu', 'relu2', 'relu6', 'leaky_relu', 'silu', 'swish', 'mish', 'tanh', 'sigmoid',
  'linear', 'laplace',
] as const;

/** Everything config.json holds: the model's own fields (GptConfig) plus the rest of GPT2Config. */
export interface Gpt2Config extends GptConfig {
  activationFunction: string;
  bosTokenId: number | null;
  eosTokenId: number | null;
  tieWordEmbeddings: boolean;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  reorderAndUpcastAttn: boolean;
  useCache: boolean;
  architectures: string[];
  /** Keys genlab does not interpret (n_ctx, summary_*, torch_dtype, ...), preserved verbatim. */
  extra: Record<string, unknown>;
}

type Check = (v: unknown) => string | null;

const posInt: Check = (v) => (Number.isSafeInteger(v) && (v as number) > 0 ? null : 'must be a positive integer');
const prob: Check = (v) =>
  typeof v === 'number' && v >= 0 && v < 1 ? null : 'must be a probability in [0, 1) (0 disables dropout)';
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const tokenId: Check = (v) =>
  v === null || (Number.isSafeInteger(v) && (v as number) >= 0) ? null : 'must be a non-negative integer token id or null';

interface Field {
  key: string;
  prop: keyof Omit<Gpt2Config, 'extra'>;
  def: unknown;
  check: Check;
}

// Defaults are transformers' GPT2Config defaults (the 124M model).
const FIELDS: Field[] = [
  { key: 'vocab_size', prop: 'vocabSize', def: 50257, check: posInt },
  { key: 'n_positions', prop: 'nPositions', def: 1024, check: posInt },
  { key: 'n_embd', prop: 'nEmbd', def: 768, check: posInt },
  { key: 'n_layer', prop: 'nLayer', def: 12, check: posInt },
  { key: 'n_head', prop: 'nHead', def: 12, check: posInt },
  { key: 'n_inner', prop: 'nInner', def: null, check: (v) => (v === null ? null : posInt(v) && 'must be a positive integer, or null for 4 * n_embd') },
  {
    key: 'activation_function', prop: 'activationFunction', def: 'gelu_new',
    check: (v) => ((HF_ACTIVATIONS as readonly unknown[]).includes(v) ? null : `must be one of ${HF_ACTIVATIONS.join(', ')} (GPT-2 uses "gelu_new")`),
  },
  { key: 'resid_pdrop', prop: 'residPdrop', def: 0.1, check: prob },
  { key: 'embd_pdrop', prop: 'embdPdrop', def: 0.1, check: prob },
  { key: 'attn_pdrop', prop: 'attnPdrop', def: 0.1, check: prob },
  {
    key: 'layer_norm_epsilon', prop: 'layerNormEpsilon', def: 1e-5,
    check: (v) => (typeof v === 'number' && v > 0 && v < 1 ? null : 'must be a small positive number (GPT-2 uses 1e-5)'),
  },
  {
    key: 'initializer_range', prop: 'initializerRange', def: 0.02,
    check: (v) => (typeof v === 'number' && v >= 0 && Number.isFinite(v) ? null : 'must be a non-negative number (GPT-2 uses 0.02)'),
  },
  { key: 'bos_token_id', prop: 'bosTokenId', def: 50256, check: tokenId },
  { key: 'eos_token_id', prop: 'eosTokenId', def: 50256, check: tokenId },
  { key: 'tie_word_embeddings', prop: 'tieWordEmbeddings', def: true, check: bool },
  { key: 'scale_attn_weights', prop: 'scaleAttnWeights', def: true, check: bool },
  { key: 'scale_attn_by_inverse_layer_idx', prop: 'scaleAttnByInverseLayerIdx', def: false, check: bool },
  { key: 'reorder_and_upcast_attn', prop: 'reorderAndUpcastAttn', def: false, check: bool },
  { key: 'use_cache', prop: 'useCache', def: true, check: bool },
  {
    key: 'architectures', prop: 'architectures', def: ['GPT2LMHeadModel'],
    check: (v) => (Array.isArray(v) && v.every((a) => typeof a === 'string') ? null : 'must be a list of class names, e.g. ["GPT2LMHeadModel"]'),
  },
];
const FIELD_BY_KEY = new Map(FIELDS.map((f) => [f.key, f]));

/** Written by transformers for GPT-2 although unused by the LM head; kept so files look canonical. */
const SUMMARY_DEFAULTS: Record<string, unknown> = {
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function checkCrossFields(c: Gpt2Config, file: string): void {
  if (c.nEmbd % c.nHead !== 0) {
    const options = [1, 2, 4, 6, 8, 12, 16].filter((h) => c.nEmbd % h === 0).join(', ');
    throw new HfConfigError(file, `n_embd (${c.nEmbd}) must be divisible by n_head (${c.nHead}); choose n_head from ${options}, or change n_embd`, 'n_head');
  }
  for (const [key, id] of [['bos_token_id', c.bosTokenId], ['eos_token_id', c.eosTokenId]] as const) {
    if (id !== null && id >= c.vocabSize) {
      throw new HfConfigError(file, `(${id}) must be below vocab_size (${c.vocabSize}); use the tokenizer's end-of-text id`, key);
    }
  }
}

/** Validate a parsed config.json object. `file` names the source in error messages. */
export function gpt2ConfigFromJson(json: unknown, file = 'config.json'): Gpt2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new HfConfigError(file, 'must contain a JSON object of GPT2Config keys');
  }
  const obj = json as Record<string, unknown>;
  if ('model_type' in obj && obj.model_type !== 'gpt2') {
    const llama = (LLAMA_MODEL_TYPES as readonly unknown[]).includes(obj.model_type) ? ' (Llama-family configs are read by readLlamaConfig)' : '';
    throw new HfConfigError(file, `is ${JSON.stringify(obj.model_type)}, but this GPT-2 reader takes only model_type "gpt2"${llama}; genlab reads gpt2, ${LLAMA_MODEL_TYPES.join(', ')}`, 'model_type');
  }
  const out: Record<string, unknown> = { extra: {} };
  const extra = out.extra as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    const field = FIELD_BY_KEY.get(key);
    if (field === undefined) {
      if (key !== 'model_type') extra[key] = value;
      continue;
    }
    const problem = field.check(value);
    if (problem !== null) throw new HfConfigError(file, `${problem}; got ${JSON.stringify(value)}`, key);
    out[field.prop] = Array.isArray(value) ? [...value] : value;
  }
  // A misspelt key would otherwise silently fall back to the 124M default.
  for (const f of FIELDS) {
    if (f.key in obj) continue;
    const near = Object.keys(extra).find((k) => editDistance(k, f.key) <= 2 && !(k in SUMMARY_DEFAULTS));
    if (near !== undefined) {
      throw new HfConfigError(file, `is not a GPT2Config key; did you mean "${f.key}"? (rename it, otherwise the default ${JSON.stringify(f.def)} is used)`, near);
    }
    out[f.prop] = Array.isArray(f.def) ? [...f.def] : f.def;
  }
  const config = out as unknown as Gpt2Config;
  checkCrossFields(config, file);
  if (!config.architectures.some((a) => a.startsWith('GPT2'))) {
    throw new HfConfigError(file, `${JSON.stringify(config.architectures)} names no GPT-2 class; use ["GPT2LMHeadModel"]`, 'architectures');
  }
  return config;
}

/** A validated config from GPT2Config defaults plus the given overrides. */
export function makeGpt2Config(overrides: Partial<Gpt2Config> = {}): Gpt2Config {
  const base = gpt2ConfigFromJson({}, '<defaults>');
  const merged: Gpt2Config = { ...base, ...overrides, extra: { ...base.extra, ...(overrides.extra ?? {}) } };
  // Re-validate through the JSON path so overrides get the same checks as files.
  return gpt2ConfigFromJson(gpt2ConfigToJson(merged), '<config>');
}

/** The config.json object: snake_case keys, sorted as transformers writes them. */
export function gpt2ConfigToJson(c: Gpt2Config): Record<string, unknown> {
  const obj: Record<string, unknown> = { ...SUMMARY_DEFAULTS, ...c.extra, model_type: 'gpt2' };
  for (const f of FIELDS) obj[f.key] = c[f.prop];
  // Old transformers releases sized the causal mask from n_ctx; keep it in step with n_positions.
  if ('n_ctx' in obj) obj.n_ctx = c.nPositions;
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) sorted[k] = obj[k];
  return sorted;
}

/** `pathOrDir/fileName` when pathOrDir is a folder, else pathOrDir itself. */
export function resolveJsonPath(pathOrDir: string, fileName: string): string {
  try {
    if (fs.statSync(pathOrDir).isDirectory()) return path.join(pathOrDir, fileName);
  } catch {
    // Not an existing folder: treat as a file path.
  }
  return pathOrDir;
}

/** Parsed JSON of a file, or an HfConfigError naming it. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new HfConfigError(file, `cannot be read: ${e.message}${e.code === 'ENOENT' ? ' (is this a model folder? it needs this file)' : ''}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HfConfigError(file, `is not valid JSON: ${(err as Error).message}`);
  }
}

/** Read `config.json` from a model folder (or a path to the file itself). */
export function readGpt2Config(pathOrDir: string): Gpt2Config {
  const file = resolveJsonPath(pathOrDir, 'config.json');
  return gpt2ConfigFromJson(readJsonFile(file), file);
}

/** Write `config.json` atomically into a folder (or to the given file path). */
export async function writeGpt2Config(pathOrDir: string, config: Gpt2Config): Promise<string> {
  const file = resolveJsonPath(pathOrDir, 'config.json');
  const json = gpt2ConfigToJson(config);
  gpt2ConfigFromJson(json, file);
  await writeJsonAtomic(file, json);
  return file;
}

// ------------------------------------------------------------ generation_config.json


type GenKey = keyof Omit<GenerationConfig, 'extra'>;
const GEN_FIELDS: { key: string; prop: GenKey; check: Check }[] = [
  { key: 'bos_token_id', prop: 'bosTokenId', check: tokenId },
  {
    key: 'eos_token_id', prop: 'eosTokenId',
    check: (v) => (Array.isArray(v) ? (v.every((x) => tokenId(x) === null && x !== null) ? null : 'must be a token id or a list of token ids') : tokenId(v)),
  },
  { key: 'pad_token_id', prop: 'padTokenId', check: tokenId },
  { key: 'max_length', prop: 'maxLength', check: posInt },
  { key: 'max_new_tokens', prop: 'maxNewTokens', check: (v) => (v === null ? null : posInt(v)) },
  { key: 'do_sample', prop: 'doSample', check: bool },
  {
    key: 'temperature', prop: 'temperature',
    check: (v) => (typeof v === 'number' && v > 0 && Number.isFinite(v) ? null : 'must be a positive number (use do_sample=false for greedy decoding)'),
  },
  { key: 'top_k', prop: 'topK', check: (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? null : 'must be a non-negative integer (0 disables top-k)') },
  { key: 'top_p', prop: 'topP', check: (v) => (typeof v === 'number' && v > 0 && v <= 1 ? null : 'must be in (0, 1] (1 disables nucleus sampling)') },
  { key: 'repetition_penalty', prop: 'repetitionPenalty', check: (v) => (typeof v === 'number' && v > 0 ? null : 'must be a positive number (1 means no penalty)') },
];

export function generationConfigFromJson(json: unknown, file = 'generation_config.json'): GenerationConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new HfConfigError(file, 'must contain a JSON object');
  }
  const out: GenerationConfig = { extra: {} };
  const byKey = new Map(GEN_FIELDS.map((f) => [f.key, f]));
  for (const [key, value] of Object.entries(json)) {
    const f = byKey.get(key);
    if (f === undefined) {
      out.extra[key] = value;
      continue;
    }
    const problem = f.check(value);
    if (problem !== null) throw new HfConfigError(file, `${problem}; got ${JSON.stringify(value)}`, key);
    (out as unknown as Record<string, unknown>)[f.prop] = value;
  }
  return out;
}

export function generationConfigToJson(g: GenerationConfig): Record<string, unknown> {
  const obj: Record<string, unknown> = { ...g.extra };
  for (const f of GEN_FIELDS) {
    const v = g[f.prop];
    if (v !== undefined) obj[f.key] = v;
  }
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) sorted[k] = obj[k];
  return sorted;
}

/** What transformers writes next to a freshly saved model: the special ids from the config. */
export function generationConfigFromModel(c: Gpt2Config): GenerationConfig {
  return { bosTokenId: c.bosTokenId, eosTokenId: c.eosTokenId, extra: { _from_model_config: true } };
}

export function readGenerationConfig(pathOrDir: string): GenerationConfig {
  const file = resolveJsonPath(pathOrDir, 'generation_config.json');
  return generationConfigFromJson(readJsonFile(file), file);
}

export async function writeGenerationConfig(pathOrDir: string, g: GenerationConfig): Promise<string> {
  const file = resolveJsonPath(pathOrDir, 'generation_config.json');
  const json = generationConfigToJson(g);
  generationConfigFromJson(json, file);
  await writeJsonAtomic(file, json);
  return file;
}
