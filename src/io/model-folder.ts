// A model folder is a Hugging Face GPT-2 folder: config.json, model.safetensors, tokenizer files
// and generation_config.json, plus genlab's run record (run.json). A GPT-2 folder from the Hub
// loads as is; what we write loads in `transformers`. Llama-family folders (model_type llama,
// mistral, qwen2, qwen3) load through loadLanguageModel, for generation, serving, LoRA and DPO;
// a Llama-recipe model genlab trained is written as a LlamaForCausalLM folder.

import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from '../backend/device.ts';
import { readyDefaultDevice } from '../backend/registry.ts';
import type { CausalLm, LanguageModel } from '../generate/generate.ts';
import { Gpt } from '../models/gpt.ts';
import { Llama, type LlamaConfig } from '../models/llama.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { loadGptWeights, saveGptWeights } from './gpt-weights.ts';
import { downloadSnapshot, parseHubSpec, type HubOptions, type HubSource } from './hub.ts';
import { generationConfigFromModel, LLAMA_MODEL_TYPES, makeGpt2Config, readGenerationConfig, readGpt2Config, readJsonFile, resolveJsonPath, writeGenerationConfig, writeGpt2Config, type Gpt2Config } from './hf-config.ts';
import { llamaConfigToJson, readLlamaConfig } from './llama-config.ts';
import { loadLlamaWeights, saveLlamaWeights } from './llama-weights.ts';

export interface LoadedModel<M extends CausalLm = Gpt, C = Gpt2Config> extends LanguageModel<M> {
  config: C;
  dir: string;
  /** genlab's run record, when the folder has one. */
  runRecord: Record<string, unknown> | null;
  /** Set when the model came from `hf:…`: dir is then a snapshot in the shared Hub cache. */
  hub: HubSource | null;
}

/**
 * base_model_name_or_path for an adapter trained on lm: ORG/NAME for a Hub model (what PEFT writes,
 * so PEFT and `--model hf:ORG/NAME` find it again), else the folder's absolute path.
 */
export function adapterBaseName(lm: { dir: string; hub: HubSource | null }): string {
  return lm.hub ? lm.hub.repoId : path.resolve(lm.dir);
}

/** A loaded Llama-family folder (Llama, Mistral, Qwen2, Qwen3). */
export type LoadedLlama = LoadedModel<Llama, LlamaConfig>;

export interface LoadModelOptions {
  device?: Device;
  hub?: HubOptions;
}

/**
 * Loads a GPT-2 model folder, or `hf:ORG/NAME[@REV]` from the Hugging Face Hub (hub.ts), onto a
 * device (default: the default device, made by init() if there is none yet). For what needs GPT-2
 * (saving a model folder, merge, eval, reward models); a Llama-family folder is refused with a note
 * on what loads it.
 */
export async function loadModel(source: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const lm = await loadLanguageModel(source, opts);
  if (lm.model instanceof Gpt) return lm as LoadedModel;
  const config = lm.config as LlamaConfig;
  throw new Error(`${source} is a ${config.modelType} model; every genlab command but \`reward train\` takes it, and that one needs a GPT-2 folder (model_type "gpt2") for now`);
}

/**
 * Loads a model folder or `hf:` spec of any architecture genlab runs: GPT-2, or the Llama family
 * when config.json's model_type is llama, mistral, qwen2 or qwen3 (LLAMA_MODEL_TYPES).
 */
export async function loadLanguageModel(source: string, opts: LoadModelOptions = {}): Promise<LoadedModel | LoadedLlama> {
  const spec = parseHubSpec(source);
  const snapshot = spec ? await downloadSnapshot(spec, opts.hub) : null;
  const hub: HubSource | null = snapshot && spec ? { spec: spec.text, repoId: snapshot.repoId, revision: snapshot.revision, commit: snapshot.commit } : null;
  const dir = snapshot ? snapshot.dir : source;
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new Error(`model folder ${dir} does not exist; train one with \`genlab train --out ${dir}\`, or pass an existing Hugging Face GPT-2 folder or hf:ORG/NAME from the Hub`);
  }
  const modelType = modelTypeOf(dir);
  if ((LLAMA_MODEL_TYPES as readonly unknown[]).includes(modelType)) return loadLlamaFolder(dir, hub, opts.device);
  const config = readGpt2Config(dir);
  if (config.activationFunction !== 'gelu_new' && config.activationFunction !== 'gelu_pytorch_tanh') {
    throw new Error(`${path.join(dir, 'config.json')}: activation_function "${config.activationFunction}" is not supported; genlab's GPT-2 uses the tanh GELU ("gelu_new")`);
  }
  const unsupported = [
    !config.scaleAttnWeights && 'scale_attn_weights: false',
    config.scaleAttnByInverseLayerIdx && 'scale_attn_by_inverse_layer_idx: true',
    !config.tieWordEmbeddings && 'tie_word_embeddings: false',
  ].filter(Boolean);
  if (unsupported.length > 0) {
    throw new Error(`${path.join(dir, 'config.json')}: ${unsupported.join(', ')} is not supported; genlab's GPT-2 scales attention by 1/√d and ties the LM head to wte, as the released GPT-2 models do`);
  }
  const tokenizer = await folderTokenizer(dir, config.vocabSize);
  const model = new Gpt(config, { device: opts.device ?? (await readyDefaultDevice()) });
  loadGptWeights(model, path.join(dir, 'model.safetensors'));
  model.eval();
  return { model, tokenizer, config, dir, hub, ...(await folderExtras(dir)) };
}

/** config.json's model_type (undefined when it has none; the GPT-2 reader then explains). */
function modelTypeOf(dir: string): unknown {
  const json = readJsonFile(resolveJsonPath(dir, 'config.json'));
  return typeof json === 'object' && json !== null ? (json as Record<string, unknown>).model_type : undefined;
}

async function loadLlamaFolder(dir: string, hub: HubSource | null, device: Device | undefined): Promise<LoadedLlama> {
  const config = readLlamaConfig(dir);
  const tokenizer = await folderTokenizer(dir, config.vocabSize);
  const model = new Llama(config, { device: device ?? (await readyDefaultDevice()) });
  loadLlamaWeights(model, dir);
  model.eval();
  return { model, tokenizer, config, dir, hub, ...(await folderExtras(dir)) };
}

async function folderTokenizer(dir: string, vocabSize: number): Promise<LoadedModel['tokenizer']> {
  const tokenizer = await loadTokenizer(dir);
  if (tokenizer.vocabSize > vocabSize) {
    throw new Error(`${dir}: the tokenizer has ${tokenizer.vocabSize} ids but config.json says vocab_size ${vocabSize}; they must come from the same model`);
  }
  return tokenizer;
}

/** The run record and generation_config.json, when the folder has them. */
async function folderExtras(dir: string): Promise<Pick<LoadedModel, 'runRecord' | 'generationConfig'>> {
  let runRecord: Record<string, unknown> | null = null;
  try {
    runRecord = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    runRecord = null;
  }
  const generationConfig = existsSync(path.join(dir, 'generation_config.json')) ? readGenerationConfig(dir) : null;
  return { runRecord, generationConfig };
}

/**
 * Writes a complete model folder (each file atomically): a GPT-2 folder, or for a Llama a
 * LlamaForCausalLM folder (config.json, model.safetensors, tokenizer, generation_config.json).
 */
export async function saveModel(dir: string, lm: LanguageModel<Gpt | Llama>, opts: { runRecord?: Record<string, unknown>; config?: Gpt2Config } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (lm.model instanceof Llama) {
    if (opts.config) throw new Error('saveModel: a GPT-2 config was given for a Llama model');
    const tokens = { bosTokenId: lm.tokenizer.eotId, eosTokenId: lm.tokenizer.eotId };
    await saveLlamaWeights(lm.model, path.join(dir, 'model.safetensors'));
    await saveTokenizer(dir, lm.tokenizer);
    await writeJsonAtomic(path.join(dir, 'config.json'), llamaConfigToJson(lm.model.config, tokens));
    await writeGenerationConfig(dir, lm.generationConfig ?? { ...tokens, extra: { _from_model_config: true } });
    if (opts.runRecord) await writeJsonAtomic(path.join(dir, 'run.json'), opts.runRecord);
    return;
  }
  const c = lm.model.config;
  const config =
    opts.config ??
    makeGpt2Config({
      vocabSize: c.vocabSize,
      nPositions: c.nPositions,
      nEmbd: c.nEmbd,
      nLayer: c.nLayer,
      nHead: c.nHead,
      nInner: c.nInner,
      layerNormEpsilon: c.layerNormEpsilon,
      embdPdrop: c.embdPdrop,
      residPdrop: c.residPdrop,
      attnPdrop: c.attnPdrop,
      initializerRange: c.initializerRange,
      bosTokenId: lm.tokenizer.eotId,
      eosTokenId: lm.tokenizer.eotId,
    });
  await saveGptWeights(lm.model as Gpt, path.join(dir, 'model.safetensors'));
  await saveTokenizer(dir, lm.tokenizer);
  await writeGpt2Config(dir, config);
  await writeGenerationConfig(dir, lm.generationConfig ?? generationConfigFromModel(config));
  if (opts.runRecord) await writeJsonAtomic(path.join(dir, 'run.json'), opts.runRecord);
}
