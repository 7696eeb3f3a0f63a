// `genlab train`: corpus → BPE tokenizer (cached) → token shards (cached) → GPT-2 or Llama-recipe
// model → training loop → Hugging Face model folder (GPT2LMHeadModel or LlamaForCausalLM) with
// genlab's run record. Every step reports progress.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { devicePrecision } from '../backend/registry.ts';
import { resolveSource, type CorpusSource } from '../data/corpus.ts';
import { BatchLoader, maxBatchSize } from '../data/loader.ts';
import { describeSplit, prepareDataset, type PreparedDataset } from '../data/prepare.ts';
import { gpt2ConfigFromJson, LLAMA_MODEL_TYPES } from '../io/hf-config.ts';
import { llamaConfigFromJson } from '../io/llama-config.ts';
import { saveModel } from '../io/model-folder.ts';
import { Gpt, type GptConfig } from '../models/gpt.ts';
import { Llama, type LlamaConfig } from '../models/llama.ts';
import { EnergyMeter, estimateEnergy } from '../record/energy.ts';
import { buildRunRecord } from '../record/record-writer.ts';
import { ENERGY_SEGMENTS_FILE, saveEnergySegment } from '../record/run-record.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.ts';
import { tokenizerJsonString } from '../tokenizer/formats.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { progressBar } from '../util/progress.ts';
import { presetNames, presets, type Preset, type PresetName } from './presets.ts';
import { findTorchPython, trainWithTorch } from './torch-engine.ts';
import { trainLoop, type TrainLoopOptions, type TrainResult } from './trainer.ts';

export interface TrainCommandOptions {
  data: string[];
  model: string;
  /** Model folder to write (default: defaultTrainOut(model)). */
  out?: string;
  steps?: number;
  batch?: number;
  seqLen?: number;
  gradAccum?: number;
  lr?: number;
  warmup?: number;
  weightDecay?: number;
  dropout?: number;
  vocabSize?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  valFraction?: number;
  seed?: number;
  resume?: boolean;
  /** Pause after this step with a checkpoint (the schedule still runs to `steps`); continue with resume. */
  stopAt?: number;
  /** Who takes the steps: genlab's own loop, or PyTorch through torchrun (torch-engine.ts). */
  engine?: 'genlab' | 'torch';
  /** PyTorch processes (DDP ranks) with engine 'torch' (default 1). */
  nproc?: number;
  cache?: string;
  /** No progress output (tests). */
  quiet?: boolean;
}

/** What to build: a GPT-2 or a Llama-recipe model, its shape without the vocabulary (the tokenizer decides it). */
export type ModelSpec = { architecture: 'gpt2'; config: Omit<GptConfig, 'vocabSize'> } | { architecture: 'llama'; config: Omit<LlamaConfig, 'vocabSize'> };

/** A freshly initialised model of the spec with `vocabSize` tokens. */
export function createModel(spec: ModelSpec, vocabSize: number, opts: { seed: number }): Gpt | Llama {
  return spec.architecture === 'llama' ? new Llama({ ...spec.config, vocabSize }, opts) : new Gpt({ ...spec.config, vocabSize }, opts);
}

/** Parameters outside the token (and GPT-2's position) embeddings: the count scaling laws use. */
export function nonEmbeddingParameters(model: Gpt | Llama): number {
  if (model instanceof Gpt) return model.numNonEmbeddingParameters();
  return model.numParameters() - model.model.embedTokens.weight.size - (model.lmHead?.weight.size ?? 0);
}

/** Positions the spec's model attends over. */
function contextOf(spec: ModelSpec): number {
  return spec.architecture === 'llama' ? spec.config.maxPositionEmbeddings : spec.config.nPositions;
}

function specOfPreset(p: Preset): ModelSpec {
  return p.architecture === 'llama' ? { architecture: 'llama', config: p.model } : { architecture: 'gpt2', config: p.model };
}

/** A config.json to train from: GPT-2's keys, or a LlamaForCausalLM's (model_type "llama"). */
function specOfConfigFile(json: unknown, file: string): ModelSpec & { vocabSize: number } {
  const type = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).model_type : undefined;
  if (type === 'llama') {
    const c = llamaConfigFromJson(json, file);
    if (c.slidingWindow !== null) throw new Error(`${file}: sliding_window is set; genlab trains Llama configs with full causal attention`);
    return { architecture: 'llama', config: c, vocabSize: c.vocabSize };
  }
  if ((LLAMA_MODEL_TYPES as readonly unknown[]).includes(type)) {
    throw new Error(`${file}: model_type ${JSON.stringify(type)}; genlab pre-trains GPT-2 configs and Llama ones (model_type "llama"), so write it as a Llama config`);
  }
  const c = gpt2ConfigFromJson(json, file);
  return { architecture: 'gpt2', config: c, vocabSize: c.vocabSize };
}

interface Plan {
  model: ModelSpec;
  vocabSize: number;
  batch: number;
  seqLen: number;
  steps: number;
  lr: number;
  preset: string;
}

async function planFrom(o: TrainCommandOptions): Promise<Plan> {
  let plan: Plan;
  if ((presetNames as string[]).includes(o.model)) {
    const p: Preset = presets[o.model as PresetName];
    plan = { model: specOfPreset(p), vocabSize: p.vocabSize, batch: p.batch, seqLen: p.seqLen, steps: p.steps, lr: p.lr, preset: o.model };
  } else if (o.model.endsWith('.json') && existsSync(o.model)) {
    const { vocabSize, ...model } = specOfConfigFile(JSON.parse(await readFile(o.model, 'utf8')), o.model);
    plan = { model, vocabSize, batch: 8, seqLen: Math.min(256, contextOf(model)), steps: 1000, lr: 1e-3, preset: o.model };
  } else {
    throw new Error(`--model '${o.model}' is neither a preset (${presetNames.join(', ')}) nor an existing config.json file`);
  }
  if (o.dropout) {
    if (plan.model.architecture === 'llama') throw new Error(`--dropout ${o.dropout}: the Llama recipe (--model ${o.model}) has no dropout layers; leave --dropout at 0, or train a GPT-2 preset`);
    plan.model = { architecture: 'gpt2', config: { ...plan.model.config, embdPdrop: o.dropout, residPdrop: o.dropout } };
  }
  plan.vocabSize = o.vocabSize ?? plan.vocabSize;
  plan.batch = o.batch ?? plan.batch;
  plan.steps = o.steps ?? plan.steps;
  plan.lr = o.lr ?? plan.lr;
  plan.seqLen = o.seqLen ?? plan.seqLen;
  if (plan.seqLen > contextOf(plan.model)) {
    throw new Error(`--seq-len ${plan.seqLen} exceeds the model's context of ${contextOf(plan.model)} positions`);
  }
  return plan;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A short key identifying the sources' contents, and their total size. */
async function sourcesKeyOf(sources: CorpusSource[]): Promise<{ key: string; bytes: number }> {
  const records = [];
  for (const s of sources) records.push((await s.scan()).record);
  return { key: sha256(records.map((r) => `${r.name}:${r.sha256}`).join('\n')).slice(0, 16), bytes: records.reduce((a, r) => a + r.bytes, 0) };
}

/** A tokenizer for these sources and vocabulary size, trained once and cached by content hash. */
async function tokenizerFor(sources: CorpusSource[], vocabSize: number, cacheDir: string, quiet: boolean): Promise<{ tokenizer: Tokenizer; sourcesKey: string }> {
  const { key: sourcesKey, bytes: totalChars } = await sourcesKeyOf(sources);
  const dir = path.join(cacheDir, 'tokenizers', `${sourcesKey}-v${vocabSize}`);
  if (existsSync(path.join(dir, 'tokenizer.json'))) return { tokenizer: await loadTokenizer(dir), sourcesKey };
  const bar = quiet ? null : progressBar(100, 'tokenizer', '{phase}');
  async function* texts(): AsyncGenerator<string> {
    for (const s of sources) for await (const d of s.documents()) yield d.text;
  }
  const tokenizer = await trainBpe(texts(), {
    vocabSize,
    onProgress: (p) => {
      const frac = p.phase === 'count' ? 0.5 * Math.min(1, p.chars / Math.max(1, totalChars)) : 0.5 + 0.5 * (p.merges / Math.max(1, p.targetMerges));
      bar?.update(Math.round(100 * frac), { phase: p.phase });
    },
  });
  bar?.update(100, { phase: 'done' });
  bar?.stop();
  await mkdir(dir, { recursive: true });
  await saveTokenizer(dir, tokenizer);
  return { tokenizer, sourcesKey };
}

export interface TrainingData {
  tokenizer: Tokenizer;
  tokenizerHash: string;
  data: PreparedDataset;
}

/**
 * The tokenizer (trained once per corpus and vocabulary size, cached) and the token shards
 * (cached per tokenizer, split and seed). A resumed run reuses the tokenizer it started with.
 */
export async function prepareTrainingData(o: {
  sources: CorpusSource[];
  vocabSize: number;
  cacheDir: string;
  seed: number;
  valFraction: number;
  quiet: boolean;
  resumeDir?: string;
  /** Use this tokenizer (fine-tuning keeps the base model's) instead of training one. */
  tokenizer?: Tokenizer;
}): Promise<TrainingData> {
  let tokenizer: Tokenizer;
  let sourcesKey: string;
  if (o.tokenizer) {
    tokenizer = o.tokenizer;
    sourcesKey = (await sourcesKeyOf(o.sources)).key;
  } else if (o.resumeDir && existsSync(path.join(o.resumeDir, 'checkpoint', 'tokenizer.json'))) {
    tokenizer = await loadTokenizer(path.join(o.resumeDir, 'checkpoint'));
    sourcesKey = 'resume';
  } else {
    ({ tokenizer, sourcesKey } = await tokenizerFor(o.sources, o.vocabSize, o.cacheDir, o.quiet));
  }
  if (tokenizer.eotId === null) throw new Error('the tokenizer has no <|endoftext|> token; genlab separates documents with it');
  const eotId = tokenizer.eotId;
  const tokenizerHash = sha256(tokenizerJsonString(tokenizer));
  const prepBar = o.quiet ? null : progressBar(100, 'tokenize ', '{source}');
  const data = await prepareDataset({
    sources: o.sources,
    tokenizer: { encode: (t) => tokenizer.encode(t, { allowSpecial: false }), eotId, vocabSize: tokenizer.vocabSize },
    tokenizerHash,
    outDir: path.join(o.cacheDir, 'datasets', `${sourcesKey}-${tokenizerHash.slice(0, 12)}-val${o.valFraction}-s${o.seed}`),
    valFraction: o.valFraction,
    seed: o.seed,
    onProgress: (p) => prepBar?.update(Math.round((100 * p.chars) / Math.max(1, p.totalChars)), { source: p.source }),
  });
  prepBar?.update(100, { source: data.reused ? 'cached' : 'done' });
  prepBar?.stop();
  return { tokenizer, tokenizerHash, data };
}

interface LoaderFlags {
  batch: number;
  seqLen: number;
  seed: number;
  vocabSize?: number;
  valFraction: number;
}

/** The shuffled training loader over prepared shards; too little text is an error naming the flags that fix it. */
export function openTrainLoader(data: PreparedDataset, o: LoaderFlags): BatchLoader {
  const tokens = data.manifest.train.tokens;
  const fit = maxBatchSize(tokens, o.seqLen, 'shuffle');
  if (fit < o.batch) {
    throw new Error(`the training text is ${tokens.toLocaleString()} tokens: room for ${fit} sequence(s) of --seq-len ${o.seqLen} per batch, fewer than --batch ${o.batch}; lower --batch or --seq-len, or add data`);
  }
  return new BatchLoader({ shards: data.trainFiles, batchSize: o.batch, seqLen: o.seqLen, mode: 'shuffle', seed: o.seed, ...(o.vocabSize !== undefined ? { vocabSize: o.vocabSize } : {}) });
}

/**
 * The sequential validation loader: at most 8 sequences a batch, fewer when a small held-out text
 * (the tail of a single document) has no room for more.
 */
export function openValLoader(data: PreparedDataset, o: LoaderFlags): BatchLoader {
  const tokens = data.manifest.val.tokens;
  if (tokens === 0) throw new Error(`--val-fraction ${o.valFraction} holds out no text, and training validates as it goes; use a --val-fraction above 0 (default 0.05)`);
  const fit = maxBatchSize(tokens, o.seqLen, 'sequential');
  if (fit < 1) {
    throw new Error(`the held-out validation text is ${tokens.toLocaleString()} tokens, fewer than --seq-len + 1 = ${o.seqLen + 1}; raise --val-fraction (now ${o.valFraction}), lower --seq-len, or add data`);
  }
  return new BatchLoader({ shards: data.valFiles, batchSize: Math.min(o.batch, 8, fit), seqLen: o.seqLen, mode: 'sequential', seed: o.seed, ...(o.vocabSize !== undefined ? { vocabSize: o.vocabSize } : {}) });
}

/**
 * Where `genlab train --model M` writes without --out: models/<preset>, or models/<name> for
 * <name>.json, so training a small preset never overwrites another preset's model.
 */
export function defaultTrainOut(model: string): string {
  return path.join('models', path.basename(model).replace(/\.json$/i, ''));
}

/** Trains a model as the options say and writes the model folder; returns the loop's result. */
export async function trainCommand(opts: TrainCommandOptions): Promise<TrainResult> {
  const o = { ...opts, out: opts.out ?? defaultTrainOut(opts.model) };
  const quiet = o.quiet ?? false;
  const say = (s: string): void => {
    if (!quiet) process.stderr.write(s + '\n');
  };
  const plan = await planFrom(o);
  const engine = o.engine ?? 'genlab';
  if (engine !== 'genlab' && engine !== 'torch') throw new Error(`--engine '${String(engine)}' is not an engine; choose genlab or torch`);
  if (o.nproc !== undefined && engine !== 'torch') throw new Error(`--nproc ${o.nproc} sets PyTorch's process count; add --engine torch, or leave --nproc out`);
  if (o.stopAt !== undefined && !(Number.isInteger(o.stopAt) && o.stopAt >= 1)) throw new Error(`--stop-at must be a step number >= 1, got ${o.stopAt}`);
  if (engine === 'torch') {
    if (plan.model.architecture !== 'gpt2') throw new Error(`--engine torch trains GPT-2 models, and --model ${o.model} is a Llama-recipe one; train it with --engine genlab`);
    // Before tokenizing: a missing PyTorch is known in a second.
    findTorchPython();
  }
  const seed = o.seed ?? 1337;
  const cacheDir = o.cache ?? '.cache/genlab';
  const sources = o.data.map((d) => resolveSource(d));
  const t0 = performance.now();
  // Energy of the whole command (tokenizer, shards, training): RAPL if readable, else estimated.
  const meter = EnergyMeter.start();

  const { tokenizer, tokenizerHash, data } = await prepareTrainingData({
    sources,
    vocabSize: plan.vocabSize,
    cacheDir,
    seed,
    valFraction: o.valFraction ?? 0.05,
    quiet,
    ...(o.resume ? { resumeDir: o.out } : {}),
  });
  await mkdir(path.join(o.out, 'checkpoint'), { recursive: true });
  // A fresh run does not inherit the energy of an earlier run's paused or interrupted processes.
  if (!o.resume) await rm(path.join(o.out, ENERGY_SEGMENTS_FILE), { force: true });
  await saveTokenizer(path.join(o.out, 'checkpoint'), tokenizer, { formats: ['tokenizer.json'] });
  say(`data: ${describeSplit(data.manifest)}`);

  const model = createModel(plan.model, tokenizer.vocabSize, { seed });
  const config = model.config;
  const nonEmbedding = nonEmbeddingParameters(model);
  const shape = model instanceof Llama ? `Llama recipe, ${model.config.numHiddenLayers} layers × ${model.config.hiddenSize} wide, ${model.config.numAttentionHeads} heads (${model.config.numKeyValueHeads} key/value)` : `GPT-2, ${model.config.nLayer} layers × ${model.config.nEmbd} wide`;
  say(`model: ${plan.preset}, ${(model.numParameters() / 1e6).toFixed(2)}M parameters (${(nonEmbedding / 1e6).toFixed(2)}M non-embedding), ${shape}, context ${model.contextLength}; backend ${model.device.name} × ${model.device.threads} threads, ${devicePrecision(model.device)} matmuls`);
  const flags = { batch: plan.batch, seqLen: plan.seqLen, seed, vocabSize: tokenizer.vocabSize, valFraction: o.valFraction ?? 0.05 };
  const val = openValLoader(data, flags);
  const train = openTrainLoader(data, flags);

  let result: TrainResult;
  // Ctrl-C stops after the current step with a checkpoint, so `--resume` continues from there.
  const stop = new AbortController();
  const onSigint = (): void => {
    say(`\nstopping after this step; continue with: genlab train ... --out ${o.out} --resume`);
    stop.abort();
  };
  process.once('SIGINT', onSigint);
  const loopOptions: TrainLoopOptions = {
    steps: plan.steps,
    lr: plan.lr,
    ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
    weightDecay: o.weightDecay ?? 0.1,
    gradAccum: o.gradAccum ?? 1,
    evalEvery: o.evalEvery ?? 100,
    checkpointEvery: o.checkpointEvery ?? 200,
    seed,
    outDir: o.out,
    resume: o.resume ?? false,
    ...(o.stopAt !== undefined ? { stopAt: o.stopAt } : {}),
    signal: stop.signal,
    ...(quiet ? {} : { progress: { label: 'train    ', format: 'loss {loss} | val {val} | {tps} tok/s', fields: (m, e) => ({ loss: m.loss.toFixed(3), val: e ? Number(e['valLoss']).toFixed(3) : '—', tps: Math.round(m.tokensPerSecond) }) } }),
    onEvent: (e) => say(`\nstep ${e.step}: ${e.reason}; ${e.action}`),
  };
  try {
    if (engine === 'torch') {
      const r = await trainWithTorch(model, train, val, { ...loopOptions, nproc: o.nproc ?? 1, data, quiet });
      result = r;
      // RAPL counts every process on the package, PyTorch's too; the CPU-time estimate counts this
      // process only, so PyTorch's processes join the run's energy as a segment of their own.
      const mine = meter.snapshot();
      const seg = r.torchSegment;
      if (seg && mine.method !== 'rapl' && seg.cpuSeconds !== undefined && seg.peakRssBytes !== undefined) {
        await saveEnergySegment(o.out, estimateEnergy({ who: `PyTorch's ${seg.processes} training process(es)`, wallSeconds: seg.wallSeconds ?? seg.seconds, cpuSeconds: seg.cpuSeconds, peakRssBytes: seg.peakRssBytes, raplUnavailable: mine.raplUnavailable ?? 'unknown' }));
      }
    } else {
      result = await trainLoop(model, train, val, loopOptions);
    }
  } finally {
    process.off('SIGINT', onSigint);
    train.close();
    val.close();
  }

  if (stop.signal.aborted) {
    say(`stopped at step ${result.steps} of ${plan.steps}; checkpoint saved in ${path.join(o.out, 'checkpoint')}`);
    await saveEnergySegment(o.out, meter.stop());
    process.exit(130);
  }
  if (result.stopped !== 'steps') {
    say(`\npaused at step ${result.steps} of ${plan.steps}; checkpoint saved in ${path.join(o.out, 'checkpoint')}; continue (with either --engine) with: genlab train ... --out ${o.out} --resume`);
    await saveEnergySegment(o.out, meter.stop());
    return result;
  }
  const last = result.segments.at(-1);
  // The run record (run.json): schema and contents live in src/record/run-record.ts.
  const runRecord = await buildRunRecord({
    preset: plan.preset,
    config,
    parameters: { total: model.numParameters(), nonEmbedding },
    tokenizer: { vocabSize: tokenizer.vocabSize, sha256: tokenizerHash },
    dataset: data,
    hyperparameters: { steps: plan.steps, batch: plan.batch, seqLen: plan.seqLen, gradAccum: o.gradAccum ?? 1, lr: plan.lr, weightDecay: o.weightDecay ?? 0.1, ...(o.warmup !== undefined ? { warmup: o.warmup } : {}), dropout: o.dropout ?? 0, seed, valFraction: o.valFraction ?? 0.05 },
    result,
    wallSeconds: (performance.now() - t0) / 1000,
    energy: meter.stop(),
    device: last?.engine === 'torch' ? { name: `pytorch ${last.backend}`, threads: last.processes * last.threadsPerProcess } : { name: model.device.name, threads: model.device.threads },
    engine: engine === 'torch' ? { engine, nproc: o.nproc ?? 1 } : { engine },
    outDir: o.out,
  });
  await saveModel(o.out, { model, tokenizer }, { runRecord: { ...runRecord } });
  say(`\nsaved ${o.out}: val loss ${result.valLoss.toFixed(4)} after ${result.steps} steps (${result.tokens.toLocaleString()} tokens, ${result.seconds.toFixed(0)} s)`);
  return result;
}
