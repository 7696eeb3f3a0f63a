// Training a translator on sentence pairs: a shared BPE vocabulary trained on both sides, batches
// of sources of one length (the attention kernel has no key-padding mask) with targets padded at
// the end and ignored by the loss, AdamW with warmup and a cosine schedule over a step or time
// budget, periodic validation (teacher-forced loss and greedy BLEU/chrF on held-out pairs), and
// the model folder rewritten whenever the validation loss improves.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { backward, noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { mix32, Rng } from '../backend/rng.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { AdamW, clipGradNorm } from '../optim/adamw.ts';
import { empty } from '../tensor/tensor.ts';
import { tokenizerJsonString } from '../tokenizer/formats.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { END_OF_TEXT } from '../tokenizer/tokenizer.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { saveTranslator, type TranslationModel } from './folder.ts';
import { bleuAndChrf } from './metrics.ts';
import { defaultTranslatorConfig, Translator, type TranslatorConfig } from './model.ts';
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

/** Loss of one batch (teacher forcing), with or without recording gradients. */
function batchLoss(model: Translator, batch: Batch, train: boolean): number {
  const dev = model.device;
  return dev.scope(() => {
    const src = empty(dev, [batch.b, batch.ts], 'int32').set(batch.src);
    const tgtIn = empty(dev, [batch.b, batch.tt], 'int32').set(batch.tgtIn);
    const targets = empty(dev, [batch.b, batch.tt], 'int32').set(batch.targets);
    if (!train) return noGrad(() => model.forward(src, tgtIn, targets).loss!.item());
    const loss = model.forward(src, tgtIn, targets).loss!;
    backward(loss);
    return loss.item();
  });
}

/** Mean loss per target token over batches, without dropout. */
export function validationLoss(model: Translator, batches: readonly Batch[]): number {
  const wasTraining = model.training;
  model.eval();
  let sum = 0;
  let tokens = 0;
  for (const b of batches) {
    sum += batchLoss(model, b, false) * b.tokens;
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
  const t0 = performance.now();
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
  const opt = new AdamW(model.parameters(), { lr, beta1: 0.9, beta2: 0.98, eps: 1e-9, weightDecay: o.weightDecay ?? 0.01 });
  const rng = new Rng(seed);
  await mkdir(o.out, { recursive: true });
  const metricsFile = path.join(o.out, 'metrics.jsonl');
  await writeFile(metricsFile, '');
  const metrics: string[] = [];
  const flush = async (): Promise<void> => {
    if (metrics.length) await writeFile(metricsFile, metrics.splice(0).join(''), { flag: 'a' });
  };

  let step = 0;
  let epoch = 0;
  let tokens = 0;
  let lossEma = NaN;
  let best = Number.POSITIVE_INFINITY;
  let bestScores = { bleu: NaN, chrf: NaN };
  const trainStart = performance.now();
  const elapsed = (): number => (performance.now() - trainStart) / 1000;
  let batches: Batch[] = [];
  let cursor = 0;
  const evaluateAndSave = async (final: boolean): Promise<void> => {
    const validLoss = validationLoss(model, validBatches);
    const scores = scorePairs(tm, bleuSet, bleuRefs);
    metrics.push(JSON.stringify({ type: 'eval', step, epoch: step === 0 ? 0 : epoch + cursor / Math.max(1, batches.length), validLoss, bleu: scores.bleu, chrf: scores.chrf, elapsedSeconds: elapsed() }) + '\n');
    const improved = validLoss < best;
    log(`step ${step}: valid loss ${validLoss.toFixed(3)}, greedy BLEU ${scores.bleu.toFixed(2)}, chrF ${scores.chrf.toFixed(2)} on ${bleuSet.length} held-out pairs${improved ? ' (best so far: saved)' : ''}; e.g. ${JSON.stringify(scores.hyps[0] ?? '')}`);
    if (improved) {
      best = validLoss;
      bestScores = { bleu: scores.bleu, chrf: scores.chrf };
      await saveTranslator(o.out, tm, { runRecord: runRecord(final) });
    }
    await flush();
  };
  const runRecord = (final: boolean): Record<string, unknown> => ({
    kind: 'translation',
    complete: final,
    createdAt: new Date().toISOString(),
    preset: plan.preset,
    data: { train: o.pairs, trainPairs: enc.encoded.length, skippedLong: enc.dropped, valid: validFile ?? `${o.pairs} (2% held out)`, validPairs: encValid.encoded.length, sha256: createHash('sha256').update(all.map((p) => `${p.source}\t${p.target}`).join('\n')).digest('hex') },
    tokenizer: { vocabSize: tokenizer.vocabSize, shared: true, sha256: createHash('sha256').update(tokenizerJsonString(tokenizer)).digest('hex') },
    parameters: model.numParameters(),
    hyperparameters: { batchTokens, lr, minLr, warmup, weightDecay: o.weightDecay ?? 0.01, dropout: config.dropout, betas: [0.9, 0.98], gradClip: o.gradClip ?? 1, seed, steps: Number.isFinite(steps) ? steps : null, minutes: o.minutes ?? null },
    progress: { steps: step, epochs: epoch + cursor / Math.max(1, batches.length), targetTokens: tokens, trainSeconds: elapsed(), wallSeconds: (performance.now() - t0) / 1000 },
    validation: { loss: best, greedyBleu: bestScores.bleu, greedyChrf: bestScores.chrf, pairs: bleuSet.length },
    device: { backend: model.device.name, threads: model.device.threads },
  });

  model.train();
  let lastLoss = NaN;
  let lastEval = -1;
  let windowStart = performance.now();
  let windowTokens = 0;
  while (step < steps && elapsed() < budgetSeconds) {
    if (cursor >= batches.length) {
      if (batches.length > 0) epoch++;
      batches = makeBatches(enc.encoded, batchTokens, eos, rng);
      cursor = 0;
    }
    const batch = batches[cursor++]!;
    // Warmup, then cosine decay over whichever budget (steps or time) runs out first.
    const progress = Math.min(1, Math.max(Number.isFinite(steps) ? step / steps : 0, elapsed() / budgetSeconds));
    opt.lr = step < warmup ? (lr * (step + 1)) / warmup : minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (lr - minLr);
    opt.zeroGrad();
    model.dropoutSeeds.seed = mix32(mix32(seed) ^ mix32(step));
    const loss = batchLoss(model, batch, true);
    const gradNorm = clipGradNorm(opt.flat, o.gradClip ?? 1);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      log(`step ${step}: ${Number.isFinite(loss) ? 'gradient' : 'loss'} is not finite; batch skipped`);
      step++;
      continue;
    }
    opt.update();
    step++;
    tokens += batch.tokens;
    windowTokens += batch.tokens;
    lastLoss = loss;
    lossEma = Number.isFinite(lossEma) ? 0.98 * lossEma + 0.02 * loss : loss;
    metrics.push(JSON.stringify({ type: 'step', step, loss, lr: opt.lr, gradNorm, tokens, elapsedSeconds: elapsed() }) + '\n');
    if (step % 50 === 0) {
      const now = performance.now();
      log(`step ${step}: loss ${lossEma.toFixed(3)}, lr ${opt.lr.toExponential(2)}, epoch ${(epoch + cursor / batches.length).toFixed(2)}, ${Math.round((windowTokens * 1000) / (now - windowStart))} target tok/s, ${elapsed().toFixed(0)} s`);
      windowStart = now;
      windowTokens = 0;
      await flush();
    }
    if (step % evalEvery === 0) {
      await evaluateAndSave(false);
      lastEval = step;
    }
    if (step % 16 === 0) await new Promise((r) => setImmediate(r));
  }
  if (lastEval !== step) await evaluateAndSave(true);
  // The best checkpoint's run record is rewritten as complete with the final progress.
  const record = JSON.parse(await readFile(path.join(o.out, 'run.json'), 'utf8')) as Record<string, unknown>;
  await writeJsonAtomic(path.join(o.out, 'run.json'), { ...record, complete: true, finalProgress: runRecord(true)['progress'] });
  try {
    const { writeTrainingCurves } = await import('./report.ts');
    await writeTrainingCurves(o.out, `${config.sourceLang} → ${config.targetLang}, ${plan.preset}: loss and greedy BLEU`);
  } catch (err) {
    log(`the training curves were not drawn: ${(err as Error).message}`);
  }
  const result: TranslateTrainResult = {
    steps: step,
    epochs: epoch + cursor / Math.max(1, batches.length),
    seconds: elapsed(),
    trainTokens: tokens,
    finalLoss: lastLoss,
    bestValidLoss: best,
    validBleu: bestScores.bleu,
    validChrf: bestScores.chrf,
    parameters: model.numParameters(),
  };
  log(`saved ${o.out}: best valid loss ${best.toFixed(3)}, greedy BLEU ${bestScores.bleu.toFixed(2)} / chrF ${bestScores.chrf.toFixed(2)} on ${bleuSet.length} validation pairs; ${step} steps, ${result.epochs.toFixed(2)} epochs in ${result.seconds.toFixed(0)} s`);
  return result;
}
