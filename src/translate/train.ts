// Training a translator on sentence pairs: a shared BPE vocabulary trained on both sides, batches
// of sources of one length (the attention kernel has no key-padding mask) with targets padded at
// the end and ignored by the loss, trained by the shared loop (src/train/loop.ts: AdamW β2 0.98,
// warmup and a cosine schedule over a step or time budget), periodic validation (teacher-forced
// loss and greedy BLEU/chrF on held-out pairs), and the model folder rewritten whenever the
// validation loss improves.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileSha256, RunRecorder, sha256Hex, type RecordFacts } from '../record/record-writer.ts';
import type { DataFacts, DataSourceFacts } from '../record/run-record.ts';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { mix32, Rng } from '../backend/rng.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { tokenizerJsonString } from '../tokenizer/formats.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { END_OF_TEXT } from '../tokenizer/tokenizer.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { runTraining, type LoopProgress } from '../train/loop.ts';
import { saveTranslator, type TranslationModel } from './folder.ts';
import { translatorTrainingFlops } from './flops.ts';
import { bleuAndChrf } from './metrics.ts';
import { defaultTranslatorConfig, Translator, type TranslatorConfig } from '../models/translator.ts';
import { readPairsTsv, splitByHash, type Pair } from './pairs.ts';
import { translateIds } from './translate.ts';

/** Model shapes and training defaults for 2 cores. */
export const TRANSLATE_PRESETS = {
  'translate-tiny': { description: '2+2 layers, 64 wide (tests; seconds)', model: { nEmbd: 64, nEncoderLayer: 2, nDecoderLayer: 2, nHead: 2, nPositions: 256 }, vocabSize: 512, batchTokens: 512, lr: 3e-3 },
  'translate-small': { description: '3+3 layers, 256 wide, 4 heads (2000 steps: 13–16 minutes on 2 cores)', model: { nEmbd: 256, nEncoderLayer: 3, nDecoderLayer: 3, nHead: 4, nPositions: 192 }, vocabSize: 4096, batchTokens: 2048, lr: 1e-3 },
  'translate-base': { description: '6+6 layers, 512 wide, 8 heads (Vaswani et al. base; hours on 2 cores)', model: { nEmbd: 512, nEncoderLayer: 6, nDecoderLayer: 6, nHead: 8, nPositions: 256 }, vocabSize: 8192, batchTokens: 4096, lr: 5e-4 },
} as const;
export type TranslatePreset = keyof typeof TRANSLATE_PRESETS;

export interface TranslateTrainOptions {
  /** Training pairs (source TAB target). */
  pairs: string;
  /** Validation pairs; default valid.tsv beside `pairs`, else 2% of the training pairs held out. */
  validPairs?: string;
  out: string;
  /** A preset name (default translate-small) or a config.json written by a previous run. */
  model?: string;
  /** Stop after this many minutes of training (the cosine schedule spans them). */
  minutes?: number;
  /** Optimizer steps (default: unlimited with --minutes, else 2000). */
  steps?: number;
  vocabSize?: number;
  /** Tokens per batch, max(source, target length) × sentences (default: the preset). */
  batchTokens?: number;
  lr?: number;
  warmup?: number;
  weightDecay?: number;
  dropout?: number;
  positions?: 'sinusoidal' | 'learned';
  /** Output projection tied to the shared embedding (default: the preset's). */
  tieWordEmbeddings?: boolean;
  gradClip?: number;
  seed?: number;
  /** Validate every this many steps (default 250). */
  evalEvery?: number;
  /** Held-out pairs decoded greedily at each validation for BLEU/chrF (default 200). */
  bleuSamples?: number;
  /** Language codes stored in the model (default from the file name, e.g. en-de/train.tsv). */
  sourceLang?: string;
  targetLang?: string;
  quiet?: boolean;
  /** Device to train on (default: the default device). */
  device?: Device;
  /** Progress callbacks (the CLI prints them). */
  onLog?: (line: string) => void;
}

export interface TranslateTrainResult {
  steps: number;
  epochs: number;
  seconds: number;
  trainTokens: number;
  finalLoss: number;
  bestValidLoss: number;
  validBleu: number;
  validChrf: number;
  parameters: number;
}

export interface EncodedPair {
  src: number[];
  tgt: number[];
}

export interface Batch {
  /** (B, Ts) source ids, every row the same length. */
  src: Int32Array;
  /** (B, Tt) decoder input: eos then the target, padded with eos. */
  tgtIn: Int32Array;
  /** (B, Tt) the target then eos, padded with -100 (ignored). */
  targets: Int32Array;
  b: number;
  ts: number;
  tt: number;
  /** Target tokens that count in the loss. */
  tokens: number;
}

/** Encodes pairs as source ids + eos and target ids; pairs longer than the model's positions are dropped. */
export function encodePairs(pairs: readonly Pair[], tok: Tokenizer, eos: number, maxPositions: number): { encoded: EncodedPair[]; dropped: number } {
  const encoded: EncodedPair[] = [];
  let dropped = 0;
  for (const p of pairs) {
    const src = tok.encode(p.source, { allowSpecial: false });
    src.push(eos);
    const tgt = tok.encode(p.target, { allowSpecial: false });
    if (src.length > maxPositions || tgt.length + 1 > maxPositions) dropped++;
    else encoded.push({ src, tgt });
  }
  return { encoded, dropped };
}

/**
 * One epoch of batches: pairs grouped by source length, shuffled within each group, cut into
 * batches of at most batchTokens = sentences × max(source, target + 1) tokens; the batch order is
 * shuffled too.
 */
export function makeBatches(pairs: readonly EncodedPair[], batchTokens: number, eos: number, rng: Rng | null): Batch[] {
  const buckets = new Map<number, EncodedPair[]>();
  for (const p of pairs) {
    let b = buckets.get(p.src.length);
    if (!b) buckets.set(p.src.length, (b = []));
    b.push(p);
  }
  const shuffle = <T>(a: T[]): void => {
    if (!rng) return;
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
  };
  const batches: Batch[] = [];
  for (const ts of [...buckets.keys()].sort((a, b) => a - b)) {
    const items = buckets.get(ts)!;
    shuffle(items);
    let group: EncodedPair[] = [];
    let tt = 0;
    const flush = (): void => {
      if (group.length > 0) batches.push(packBatch(group, ts, tt, eos));
      group = [];
      tt = 0;
    };
    for (const p of items) {
      const need = Math.max(tt, p.tgt.length + 1);
      if (group.length > 0 && (group.length + 1) * Math.max(ts, need) > batchTokens) flush();
      group.push(p);
      tt = Math.max(tt, p.tgt.length + 1);
    }
    flush();
  }
  shuffle(batches);
  return batches;
}

function packBatch(group: readonly EncodedPair[], ts: number, tt: number, eos: number): Batch {
  const b = group.length;
  const src = new Int32Array(b * ts);
  const tgtIn = new Int32Array(b * tt).fill(eos);
  const targets = new Int32Array(b * tt).fill(-100);
  let tokens = 0;
  group.forEach((p, i) => {
    src.set(p.src, i * ts);
    tgtIn.set(p.tgt, i * tt + 1);
    targets.set(p.tgt, i * tt);
    targets[i * tt + p.tgt.length] = eos;
    tokens += p.tgt.length + 1;
  });
  return { src, tgtIn, targets, b, ts, tt, tokens };
}

/** A batch's ids on the device (call inside a scope). */
function batchTensors(dev: Device, batch: Batch): { src: Tensor; tgtIn: Tensor; targets: Tensor } {
  return {
    src: empty(dev, [batch.b, batch.ts], 'int32').set(batch.src),
    tgtIn: empty(dev, [batch.b, batch.tt], 'int32').set(batch.tgtIn),
    targets: empty(dev, [batch.b, batch.tt], 'int32').set(batch.targets),
  };
}

/** Mean loss per target token over batches, without dropout. */
export function validationLoss(model: Translator, batches: readonly Batch[]): number {
  const wasTraining = model.training;
  model.eval();
  let sum = 0;
  let tokens = 0;
  const dev = model.device;
  for (const b of batches) {
    const loss = dev.scope(() => {
      const { src, tgtIn, targets } = batchTensors(dev, b);
      return noGrad(() => model.forward(src, tgtIn, targets).loss!.item());
    });
    sum += loss * b.tokens;
    tokens += b.tokens;
  }
  model.train(wasTraining);
  return sum / Math.max(1, tokens);
}

/** Greedy (or beam) translations of `pairs` and their corpus BLEU and chrF against the targets. */
export function scorePairs(tm: TranslationModel, pairs: readonly EncodedPair[], refs: readonly string[], beamSize = 1): { bleu: number; chrf: number; hyps: string[] } {
  const wasTraining = tm.model.training;
  tm.model.eval();
  const hyps = pairs.map((p) => tm.tokenizer.decode(translateIds(tm, p.src, { beamSize })[0]!.tokens).trim());
  tm.model.train(wasTraining);
  const { bleu, chrf } = bleuAndChrf(hyps, [refs]);
  return { bleu, chrf, hyps };
}

async function planConfig(o: TranslateTrainOptions): Promise<{ preset: string; model: Partial<TranslatorConfig>; vocabSize: number; batchTokens: number; lr: number }> {
  const name = o.model ?? 'translate-small';
  if (name in TRANSLATE_PRESETS) {
    const p = TRANSLATE_PRESETS[name as TranslatePreset];
    return { preset: name, model: { ...p.model }, vocabSize: p.vocabSize, batchTokens: p.batchTokens, lr: p.lr };
  }
  if (name.endsWith('.json') && existsSync(name)) {
    const { configFromJson } = await import('./folder.ts');
    const { config } = configFromJson(JSON.parse(await readFile(name, 'utf8')) as Record<string, unknown>, name);
    const { vocabSize, eosTokenId: _eos, ...rest } = config;
    return { preset: name, model: rest, vocabSize, batchTokens: 2048, lr: 1e-3 };
  }
  throw new Error(`--model '${name}' is neither a translation preset (${Object.keys(TRANSLATE_PRESETS).join(', ')}) nor an existing config.json`);
}

/** "data/en-de/train.tsv" (or "data/en-de-phrases/…") → ["en", "de"] when the folder or file is named like a pair. */
export function langsFromPath(file: string): [string, string] | null {
  for (const part of [path.basename(path.dirname(file)), path.basename(file, '.tsv')]) {
    const m = /^([a-z]{2,3})-([a-z]{2,3})(?:[-_.].*)?$/.exec(part);
    if (m) return [m[1]!, m[2]!];
  }
  return null;
}

/** Trains a translator and writes its model folder; returns the run's numbers. */
export async function trainTranslator(o: TranslateTrainOptions): Promise<TranslateTrainResult> {
  const log = o.onLog ?? ((s: string) => (o.quiet ? undefined : process.stderr.write(s + '\n')));
  const plan = await planConfig(o);
  const seed = o.seed ?? 1337;
  const recorder = RunRecorder.start();
  const all = await readPairsTsv(o.pairs);
  let train: Pair[] = all;
  let valid: Pair[];
  const validFile = o.validPairs ?? (existsSync(path.join(path.dirname(o.pairs), 'valid.tsv')) && path.basename(o.pairs) === 'train.tsv' ? path.join(path.dirname(o.pairs), 'valid.tsv') : undefined);
  if (validFile) valid = await readPairsTsv(validFile);
  else {
    const s = splitByHash(all, (p) => p.source, { testFraction: 0, validFraction: 0.02, seed });
    train = s.train;
    valid = s.valid;
  }
  if (valid.length === 0) throw new Error(`no validation pairs: ${o.pairs} is too small to hold 2% out; pass --valid-pairs FILE`);
  log(`pairs: ${train.length} training, ${valid.length} validation${validFile ? ` (${validFile})` : ' (2% held out)'}`);

  const vocabSize = o.vocabSize ?? plan.vocabSize;
  const tokenizer = await trainBpe(
    (function* () {
      for (const p of train) {
        yield p.source;
        yield p.target;
      }
    })(),
    { vocabSize, specialTokens: [END_OF_TEXT] },
  );
  const eos = tokenizer.eotId!;
  const langs = langsFromPath(o.pairs);
  const config = defaultTranslatorConfig({
    ...plan.model,
    vocabSize: tokenizer.vocabSize,
    eosTokenId: eos,
    dropout: o.dropout ?? 0.1,
    ...(o.positions ? { positions: o.positions } : {}),
    ...(o.tieWordEmbeddings !== undefined ? { tieWordEmbeddings: o.tieWordEmbeddings } : {}),
    sourceLang: o.sourceLang ?? langs?.[0] ?? 'src',
    targetLang: o.targetLang ?? langs?.[1] ?? 'tgt',
  });
  const enc = encodePairs(train, tokenizer, eos, config.nPositions);
  const encValid = encodePairs(valid, tokenizer, eos, config.nPositions);
  if (enc.encoded.length === 0) throw new Error(`every training pair is longer than the model's ${config.nPositions} positions; use a larger --model`);
  const trainTokensPerEpoch = enc.encoded.reduce((a, p) => a + p.tgt.length + 1, 0);
  const pairTokens = (ps: readonly EncodedPair[]): number => ps.reduce((a, p) => a + p.src.length + p.tgt.length + 1, 0);
  const dataFacts = await pairData(o.pairs, all, train, valid, validFile, seed, { train: pairTokens(enc.encoded), val: pairTokens(encValid.encoded) });
  log(`tokenizer: ${tokenizer.vocabSize} shared BPE ids; ${trainTokensPerEpoch.toLocaleString()} target tokens per epoch${enc.dropped ? `; ${enc.dropped} pairs longer than ${config.nPositions} tokens skipped` : ''}`);

  const model = new Translator(config, { seed, ...(o.device ? { device: o.device } : {}) });
  const tm: TranslationModel = { model, tokenizer };
  log(`model: ${plan.preset}, ${(model.numParameters() / 1e6).toFixed(2)}M parameters, ${config.nEncoderLayer}+${config.nDecoderLayer} layers × ${config.nEmbd} wide, ${config.positions} positions; backend ${model.device.name} × ${model.device.threads} threads`);

  const batchTokens = o.batchTokens ?? plan.batchTokens;
  const lr = o.lr ?? plan.lr;
  const minLr = lr / 10;
  const warmup = o.warmup ?? 200;
  const steps = o.steps ?? (o.minutes ? Number.POSITIVE_INFINITY : 2000);
  if (!Number.isFinite(steps) && !o.minutes) throw new Error('give --steps or --minutes');
  const budgetSeconds = o.minutes ? o.minutes * 60 : Number.POSITIVE_INFINITY;
  const evalEvery = o.evalEvery ?? 250;
  const validBatches = makeBatches(encValid.encoded, batchTokens, eos, null);
  const bleuSet = encValid.encoded.slice(0, o.bleuSamples ?? 200);
  const decodeBack = (p: EncodedPair): string => tokenizer.decode(p.tgt);
  const bleuRefs = bleuSet.map(decodeBack);
  const rng = new Rng(seed);
  let epoch = 0;
  let batches: Batch[] = [];
  let cursor = 0;
  const nextBatch = (): Batch => {
    if (cursor >= batches.length) {
      if (batches.length > 0) epoch++;
      batches = makeBatches(enc.encoded, batchTokens, eos, rng);
      cursor = 0;
    }
    return batches[cursor++]!;
  };
  const epochs = (): number => epoch + cursor / Math.max(1, batches.length);
  let bestStep = 0;
  let best = Number.POSITIVE_INFINITY;
  let bestScores = { bleu: NaN, chrf: NaN };
  // Validation doubles as the checkpoint: the model folder holds the best weights so far.
  const evaluateAndSave = async (p: LoopProgress): Promise<Record<string, number>> => {
    const validLoss = validationLoss(model, validBatches);
    const scores = scorePairs(tm, bleuSet, bleuRefs);
    const improved = validLoss < best;
    log(`step ${p.step}: valid loss ${validLoss.toFixed(3)}, greedy BLEU ${scores.bleu.toFixed(2)}, chrF ${scores.chrf.toFixed(2)} on ${bleuSet.length} held-out pairs${improved ? ' (best so far: saved)' : ''}; e.g. ${JSON.stringify(scores.hyps[0] ?? '')}`);
    if (improved) {
      best = validLoss;
      bestScores = { bleu: scores.bleu, chrf: scores.chrf };
      bestStep = p.step;
      await saveTranslator(o.out, tm);
      await recorder.write(o.out, runFacts(false, p), { final: false });
    }
    return { epoch: epochs(), validLoss, bleu: scores.bleu, chrf: scores.chrf };
  };
  const runFacts = (final: boolean, p: LoopProgress): RecordFacts => ({
    kind: 'translation',
    method: `encoder–decoder Transformer trained from random initialisation (${config.sourceLang} → ${config.targetLang})`,
    command: `genlab train --task translate --pairs ${o.pairs}${o.validPairs ? ` --valid-pairs ${o.validPairs}` : ''} --model ${plan.preset}${Number.isFinite(steps) ? ` --steps ${steps}` : ''}${o.minutes ? ` --minutes ${o.minutes}` : ''} --vocab-size ${vocabSize} --batch-tokens ${batchTokens} --lr ${lr} --warmup ${warmup} --dropout ${config.dropout} --eval-every ${evalEvery} --seed ${seed} --out ${o.out}`,
    preset: plan.preset,
    data: dataFacts,
    tokenizer: { type: 'byte-level BPE', vocabSize: tokenizer.vocabSize, sha256: sha256Hex(tokenizerJsonString(tokenizer)), trainedOn: 'both sides of the training pairs (shared)' },
    config: { ...config },
    hyperparameters: { batchTokens, lr, minLr, warmup, weightDecay: o.weightDecay ?? 0.01, dropout: config.dropout, betas: [0.9, 0.98], gradClip: o.gradClip ?? 1, seed, steps: Number.isFinite(steps) ? steps : null, minutes: o.minutes ?? null, skippedLong: enc.dropped },
    seeds: { init: seed, dataOrder: seed, dropout: seed, validationSplit: seed },
    parameters: { total: model.numParameters(), trainable: model.numParameters() },
    training: { steps: p.step, tokensSeen: p.tokens, trainingFlops: p.flops, trainSeconds: p.elapsedSeconds, targetTokens: p.tokens, epochs: epochs(), bestStep },
    compute: { method: 'counted from the model shapes (src/translate/flops.ts): 2·m·n·k per matmul of the encoder, decoder and head, with full source attention, causal target attention and cross-attention; backward = 2× forward; padded positions counted; validation passes not counted' },
    device: { name: model.device.name, threads: model.device.threads },
    evaluations: Number.isFinite(best)
      ? [{ name: 'translation', data: `${validFile ?? `${o.pairs} (2% held out)`}: ${bleuSet.length} validation pairs, greedy`, metrics: { bleu: bestScores.bleu, chrf: bestScores.chrf, loss: best, sentences: bleuSet.length, beam: 1 }, createdAt: new Date().toISOString(), command: `measured by the trainer at step ${bestStep} (the saved weights): greedy decoding of the first ${bleuSet.length} validation pairs` }]
      : [],
    files: { metrics: 'metrics.jsonl', weights: 'model.safetensors' },
    extra: {
      complete: final,
      progress: { steps: p.step, epochs: epochs(), targetTokens: p.tokens, trainSeconds: p.elapsedSeconds, wallSeconds: recorder.wallSeconds },
      validation: { loss: best, greedyBleu: bestScores.bleu, greedyChrf: bestScores.chrf, pairs: bleuSet.length, step: bestStep },
    },
  });

  let lossEma = NaN;
  const run = await runTraining({
    model,
    parameters: model.parameters(),
    step: () => {
      const batch = nextBatch();
      const { src, tgtIn, targets } = batchTensors(model.device, batch);
      return { loss: model.forward(src, tgtIn, targets).loss!, tokens: batch.tokens, flops: translatorTrainingFlops(config, batch.b, batch.ts, batch.tt) };
    },
    steps,
    // Warmup, then cosine decay over whichever budget (steps or time) runs out first.
    ...(o.minutes ? { maxSeconds: budgetSeconds } : {}),
    schedule: { lr, minLr, warmup, decayFromStart: true, ...(o.minutes ? { seconds: budgetSeconds } : {}) },
    optimizer: { beta1: 0.9, beta2: 0.98, eps: 1e-9, weightDecay: o.weightDecay ?? 0.01 },
    gradClip: o.gradClip ?? 1,
    seed,
    // The masks runs drew before the shared loop, so the documented results repeat.
    dropoutSeed: (step) => mix32(mix32(seed) ^ mix32(step)),
    evaluate: evaluateAndSave,
    evalEvery,
    logFile: path.join(o.out, 'metrics.jsonl'),
    onStep: (m) => {
      lossEma = Number.isFinite(lossEma) ? 0.98 * lossEma + 0.02 * m.loss : m.loss;
      if (m.step % 50 === 0) log(`step ${m.step}: loss ${lossEma.toFixed(3)}, lr ${m.lr.toExponential(2)}, epoch ${epochs().toFixed(2)}, ${Math.round(m.tokensPerSecond)} target tok/s, ${m.elapsedSeconds.toFixed(0)} s`);
    },
    onEvent: (e) => log(`step ${e.step}: ${e.message}`),
  });
  // The saved weights are the best checkpoint's; the record now covers the whole run's compute.
  await recorder.write(o.out, runFacts(true, { step: run.steps, tokens: run.tokens, flops: run.flops, elapsedSeconds: run.seconds }));
  try {
    const { writeTrainingCurves } = await import('./report.ts');
    await writeTrainingCurves(o.out, `${config.sourceLang} → ${config.targetLang}, ${plan.preset}: loss and greedy BLEU`);
  } catch (err) {
    log(`the training curves were not drawn: ${(err as Error).message}`);
  }
  const result: TranslateTrainResult = {
    steps: run.steps,
    epochs: epochs(),
    seconds: run.seconds,
    trainTokens: run.tokens,
    finalLoss: run.finalLoss,
    bestValidLoss: best,
    validBleu: bestScores.bleu,
    validChrf: bestScores.chrf,
    parameters: model.numParameters(),
  };
  log(`saved ${o.out}: best valid loss ${best.toFixed(3)}, greedy BLEU ${bestScores.bleu.toFixed(2)} / chrF ${bestScores.chrf.toFixed(2)} on ${bleuSet.length} validation pairs; ${run.steps} steps, ${result.epochs.toFixed(2)} epochs in ${result.seconds.toFixed(0)} s`);
  return result;
}

/** The data block of a translation run: the pair files by their bytes, the held-out pairs by number. */
async function pairData(pairsFile: string, all: readonly Pair[], train: readonly Pair[], valid: readonly Pair[], validFile: string | undefined, seed: number, tokens: { train: number; val: number }): Promise<DataFacts> {
  const source = async (file: string, pairs: number, trainPairs: number, valPairs: number): Promise<DataSourceFacts> => ({
    name: path.basename(file),
    kind: 'sentence-pairs',
    path: path.resolve(file),
    ...(await fileSha256(file)),
    documents: pairs,
    trainDocuments: trainPairs,
    valDocuments: valPairs,
  });
  const sources = [await source(pairsFile, all.length, train.length, validFile ? 0 : valid.length)];
  if (validFile) sources.push(await source(validFile, valid.length, 0, valid.length));
  const held = new Set(valid);
  const heldIds = validFile ? [`${path.basename(validFile)} (all ${valid.length} pairs)`] : all.flatMap((p, i) => (held.has(p) ? [`${path.basename(pairsFile)}#${i + 1}`] : []));
  return {
    sources,
    // Source + target + eos of the pairs that fit the model (longer ones are skipped).
    trainTokens: tokens.train,
    valTokens: tokens.val,
    trainDocuments: train.length,
    valDocuments: valid.length,
    split: validFile
      ? { method: 'a separate validation file', valFraction: valid.length / (train.length + valid.length), seed: null, valDocumentIds: heldIds }
      : { method: 'pairs held out by a seeded hash of the source sentence', valFraction: 0.02, seed, ...(heldIds.length <= 1000 ? { valDocumentIds: heldIds } : {}) },
    cleaningReport: null,
  };
}
