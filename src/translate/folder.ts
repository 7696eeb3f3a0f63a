// A translation model folder: config.json (model_type "genlab-translator"), model.safetensors
// (parameters by the names in model.ts), the shared BPE tokenizer (tokenizer.json and
// vocab.json + merges.txt) and genlab's run record (run.json: data, budget, losses, BLEU).

import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from '../backend/device.ts';
import { readyDefaultDevice } from '../backend/registry.ts';
import { openSafetensors, SafetensorsError, writeSafetensors } from '../io/safetensors.ts';
import { formatShape } from '../tensor/tensor.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { Translator, validateTranslatorConfig, type TranslatorConfig } from '../models/translator.ts';

export const MODEL_TYPE = 'genlab-translator';

export interface TranslationModel {
  model: Translator;
  tokenizer: Tokenizer;
}

export interface LoadedTranslationModel extends TranslationModel {
  dir: string;
  runRecord: Record<string, unknown> | null;
  /** Decoding defaults stored with the model. */
  generation: { numBeams: number; lengthPenalty: number };
}

/** config.json content (snake_case, as Hugging Face configs). */
export function configToJson(c: TranslatorConfig, generation = { numBeams: 5, lengthPenalty: 1.0 }): Record<string, unknown> {
  return {
    model_type: MODEL_TYPE,
    architectures: ['GenlabTranslator'],
    vocab_size: c.vocabSize,
    max_position_embeddings: c.nPositions,
    d_model: c.nEmbd,
    encoder_layers: c.nEncoderLayer,
    decoder_layers: c.nDecoderLayer,
    num_attention_heads: c.nHead,
    ffn_dim: c.nInner,
    position_embeddings: c.positions,
    layer_norm_epsilon: c.layerNormEpsilon,
    dropout: c.dropout,
    initializer_range: c.initializerRange,
    eos_token_id: c.eosTokenId,
    decoder_start_token_id: c.eosTokenId,
    tie_word_embeddings: c.tieWordEmbeddings,
    source_lang: c.sourceLang,
    target_lang: c.targetLang,
    num_beams: generation.numBeams,
    length_penalty: generation.lengthPenalty,
  };
}

export function configFromJson(j: Record<string, unknown>, file = 'config.json'): { config: TranslatorConfig; generation: { numBeams: number; lengthPenalty: number } } {
  if (j['model_type'] !== MODEL_TYPE) {
    throw new Error(`${file}: model_type is ${JSON.stringify(j['model_type'])}, not "${MODEL_TYPE}"; this is not a genlab translation model (train one with \`genlab train --task translate\`)`);
  }
  const num = (k: string): number => {
    const v = j[k];
    if (typeof v !== 'number') throw new Error(`${file}: "${k}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const str = (k: string, d: string): string => (typeof j[k] === 'string' ? (j[k] as string) : d);
  const config: TranslatorConfig = {
    vocabSize: num('vocab_size'),
    nPositions: num('max_position_embeddings'),
    nEmbd: num('d_model'),
    nEncoderLayer: num('encoder_layers'),
    nDecoderLayer: num('decoder_layers'),
    nHead: num('num_attention_heads'),
    nInner: j['ffn_dim'] === null || j['ffn_dim'] === undefined ? null : num('ffn_dim'),
    positions: str('position_embeddings', 'sinusoidal') as TranslatorConfig['positions'],
    tieWordEmbeddings: j['tie_word_embeddings'] !== false,
    layerNormEpsilon: typeof j['layer_norm_epsilon'] === 'number' ? (j['layer_norm_epsilon'] as number) : 1e-5,
    dropout: typeof j['dropout'] === 'number' ? (j['dropout'] as number) : 0,
    initializerRange: typeof j['initializer_range'] === 'number' ? (j['initializer_range'] as number) : 0.02,
    eosTokenId: num('eos_token_id'),
    sourceLang: str('source_lang', 'src'),
    targetLang: str('target_lang', 'tgt'),
  };
  try {
    validateTranslatorConfig(config);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const generation = {
    numBeams: typeof j['num_beams'] === 'number' ? (j['num_beams'] as number) : 5,
    lengthPenalty: typeof j['length_penalty'] === 'number' ? (j['length_penalty'] as number) : 1.0,
  };
  return { config, generation };
}

/** True when dir holds a genlab translation model (its config.json says so). */
export async function isTranslationFolder(dir: string): Promise<boolean> {
  try {
    const j = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    return j['model_type'] === MODEL_TYPE;
  } catch {
    return false;
  }
}

/** Writes a complete translation model folder (each file atomically). */
export async function saveTranslator(dir: string, tm: TranslationModel, opts: { runRecord?: Record<string, unknown>; generation?: { numBeams: number; lengthPenalty: number } } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors = tm.model.namedParameters().map(([name, t]) => ({ name, dtype: 'F32' as const, shape: [...t.shape], data: t.toArray() as Float32Array }));
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await saveTokenizer(dir, tm.tokenizer);
  await writeJsonAtomic(path.join(dir, 'config.json'), configToJson(tm.model.config, opts.generation));
  if (opts.runRecord) await writeJsonAtomic(path.join(dir, 'run.json'), opts.runRecord);
}

/** Loads a translation model folder onto a device (default: the default device), in eval mode. */
export async function loadTranslator(dir: string, opts: { device?: Device } = {}): Promise<LoadedTranslationModel> {
  if (dir.startsWith('hf:')) {
    throw new Error(`--model ${dir}: hf: loads GPT-2 language models; a translation model is a genlab encoder–decoder folder (\`genlab train --task translate --pairs FILE.tsv --out DIR\` writes one)`);
  }
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new Error(`translation model folder ${dir} does not exist; train one with \`genlab train --task translate --pairs FILE.tsv --out ${dir}\``);
  }
  const configFile = path.join(dir, 'config.json');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot read ${configFile}: ${(err as Error).message}`);
  }
  const { config, generation } = configFromJson(json, configFile);
  const tokenizer = await loadTokenizer(dir);
  if (tokenizer.vocabSize > config.vocabSize) throw new Error(`${dir}: the tokenizer has ${tokenizer.vocabSize} ids but config.json says vocab_size ${config.vocabSize}`);
  const model = new Translator(config, { device: opts.device ?? (await readyDefaultDevice()) });
  const file = path.join(dir, 'model.safetensors');
  const reader = openSafetensors(file);
  try {
    const own = model.stateDict();
    const unexpected = reader.names.filter((n) => !own.has(n));
    if (unexpected.length > 0) throw new SafetensorsError(file, `holds ${unexpected.length} tensor(s) this configuration does not have (${unexpected.slice(0, 4).join(', ')}); is config.json from the same model?`);
    for (const [name, t] of own) {
      if (!reader.has(name)) throw new SafetensorsError(file, `is missing parameter ${name}; the folder is incomplete or from another configuration`);
      const info = reader.info(name);
      if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
        throw new SafetensorsError(file, `has shape ${formatShape(info.shape)} but the model expects ${formatShape(t.shape)}; does config.json match the weights?`, name);
      }
      t.set(reader.readF32(name));
    }
  } finally {
    reader.close();
  }
  model.eval();
  let runRecord: Record<string, unknown> | null = null;
  try {
    runRecord = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    runRecord = null;
  }
  return { model, tokenizer, dir, runRecord, generation };
}
