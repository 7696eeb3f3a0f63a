// The training loop, as one readable function: AdamW with warmup + cosine LR, gradient
// accumulation and clipping, periodic validation, atomic checkpoints that resume bit-exactly, a
// loss-spike guard, and metrics as JSONL. It reports progress through callbacks; the CLI draws
// the progress bar.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { backward, noGrad } from '../autograd/tape.ts';
import { mix32 } from '../backend/rng.ts';
import type { BatchLoader, LoaderState } from '../data/loader.ts';
import { openSafetensors, writeSafetensors } from '../io/safetensors.ts';
import type { Gpt } from '../models/gpt.ts';
import { scale } from '../ops/elementwise.ts';
import { AdamW, clipGradNorm, cosineLr } from '../optim/adamw.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';

export interface TrainLoopOptions {
  steps: number;
  /** What to train (default: every parameter of the model that requires a gradient; LoRA passes its adapter's). */
  parameters?: readonly Tensor[];
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate of the cosine schedule (default lr/10). */
  minLr?: number;
  /** Warmup steps (default min(100, steps/10)). */
  warmup?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** Clip the global gradient norm to this (0 = off; default 1). */
  gradClip?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Validate every this many steps (0 = only at the end). */
  evalEvery?: number;
  /** Validation batches per evaluation (default 8). */
  evalBatches?: number;
  /** Checkpoint every this many steps (0 = only at the end). */
  checkpointEvery?: number;
  /** Seeds dropout masks (data order is seeded by the loader). */
  seed?: number;
  /** A loss above spikeFactor × its running average (after warmup) counts as a spike (default 3). */
  spikeFactor?: number;
  /** Folder for checkpoint/ and metrics.jsonl. */
  outDir: string;
  /** Continue from outDir/checkpoint when it exists. */
  resume?: boolean;
  onStep?: (m: StepMetrics) => void;
  onEval?: (m: EvalMetrics) => void;
  onEvent?: (e: GuardEvent) => void;
  /** Stops after the current step, checkpointing first (Ctrl-C, time limits). */
  signal?: AbortSignal;
  /** Stops (with a checkpoint) once training has run this long; steps still sets the LR schedule. */
  maxSeconds?: number;
  /** Called after backward and before clipping/the update (tests use it to inject faults). */
  afterBackward?: (step: number, model: Gpt) => void;
}

export interface StepMetrics {
  type: 'step';
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
}

export interface EvalMetrics {
  type: 'eval';
  step: number;
  valLoss: number;
  elapsedSeconds: number;
}

export interface GuardEvent {
  type: 'spike';
  step: number;
  loss: number;
  gradNorm: number;
  reason: string;
  action: 'rolled back to the last good state and skipped the batch';
}

export interface TrainResult {
  steps: number;
  tokens: number;
  finalLoss: number;
  valLoss: number;
  seconds: number;
  spikes: number;
  resumedFrom: number;
}

interface CheckpointMeta {
  step: number;
  tokens: number;
  optimizerStep: number;
  loader: LoaderState;
  lossEma: number;
  elapsedSeconds: number;
}

const CHECKPOINT = 'checkpoint';

/** Mean loss of `batches` sequential batches from `loader` (which is rewound first). */
export function evaluate(model: Gpt, loader: BatchLoader, batches: number): number {
  const wasTraining = model.training;
  model.eval();
  loader.reset();
  const dev = model.device;
  let sum = 0;
  const n = Math.max(1, Math.min(batches, loader.batchesPerEpoch));
  for (let i = 0; i < n; i++) {
    const b = loader.next();
    sum += dev.scope(() =>
      noGrad(() => {
        const ids = empty(dev, [loader.batchSize, loader.seqLen], 'int32').set(b.inputs);
        const targets = empty(dev, [loader.batchSize, loader.seqLen], 'int32').set(b.targets);
        return model.forward(ids, targets).loss!.item();
      }),
    );
  }
  model.train(wasTraining);
  return sum / n;
}

/** Trains `model` on batches from `train`, validating on `val`. */
export async function trainLoop(model: Gpt, train: BatchLoader, val: BatchLoader, o: TrainLoopOptions): Promise<TrainResult> {
  const dev = model.device;
  const accum = o.gradAccum ?? 1;
  const warmup = o.warmup ?? Math.min(100, Math.floor(o.steps / 10));
  const minLr = o.minLr ?? o.lr / 10;
  const gradClip = o.gradClip ?? 1;
  const evalEvery = o.evalEvery ?? 0;
  const evalBatches = o.evalBatches ?? 8;
  const checkpointEvery = o.checkpointEvery ?? 0;
  const spikeFactor = o.spikeFactor ?? 3;
  const seed = o.seed ?? 0;
  const opt = new AdamW(o.parameters ?? model.parameters(), { lr: o.lr, weightDecay: o.weightDecay ?? 0.1, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.95 });
  const flat = opt.flat;
  await mkdir(o.outDir, { recursive: true });
  const metricsFile = path.join(o.outDir, 'metrics.jsonl');

  let step = 0;
  let tokens = 0;
  let lossEma = NaN;
  let elapsedBefore = 0;
  let resumedFrom = 0;
  if (o.resume) {
    const meta = await loadCheckpoint(o.outDir, opt, train);
    if (meta) {
      step = meta.step;
      tokens = meta.tokens;
      lossEma = meta.lossEma;
      elapsedBefore = meta.elapsedSeconds;
      resumedFrom = step;
      await truncateMetrics(metricsFile, step);
    }
  } else {
    await writeFile(metricsFile, '');
  }
  const lines: string[] = [];
  const flush = async (): Promise<void> => {
    if (lines.length === 0) return;
    await writeFile(metricsFile, lines.join(''), { flag: 'a' });
    lines.length = 0;
  };
  const log = (obj: object): void => {
    lines.push(JSON.stringify(obj) + '\n');
  };

  let good = flat.snapshot();
  let goodOptStep = opt.step;
  const start = performance.now();
  const elapsed = (): number => elapsedBefore + (performance.now() - start) / 1000;
  let lastLoss = NaN;
  let valLoss = NaN;
  let spikes = 0;
  const B = train.batchSize;
  const T = train.seqLen;
  const ids = dev.heapScope(() => empty(dev, [B, T], 'int32'));
  const targets = dev.heapScope(() => empty(dev, [B, T], 'int32'));
  const batch = { inputs: new Int32Array(B * T), targets: new Int32Array(B * T) };
  let windowStart = performance.now();
  let windowTokens = 0;

  while (step < o.steps) {
    const lr = cosineLr(step, { maxLr: o.lr, minLr, warmup, totalSteps: o.steps });
    opt.lr = lr;
    opt.zeroGrad();
    model.train();
    let loss = 0;
    for (let micro = 0; micro < accum; micro++) {
      train.nextInto(batch.inputs, batch.targets);
      ids.set(batch.inputs);
      targets.set(batch.targets);
      // Dropout masks depend only on (seed, step, micro-step): a resumed run redraws the same ones.
      model.dropoutSeeds.seed = mix32(mix32(seed) ^ mix32(step * 64 + micro));
      loss += dev.scope(() => {
        const out = model.forward(ids, targets);
        const l = accum === 1 ? out.loss! : scale(out.loss!, 1 / accum);
        backward(l);
        return out.loss!.item();
      });
    }
    loss /= accum;
    o.afterBackward?.(step, model);
    const gradNorm = gradClip > 0 ? clipGradNorm(flat, gradClip) : flat.gradNorm();
    const spike = !Number.isFinite(loss) ? 'loss is not finite' : !Number.isFinite(gradNorm) ? 'gradient is not finite' : step >= warmup && Number.isFinite(lossEma) && loss > spikeFactor * lossEma ? `loss ${loss.toFixed(3)} > ${spikeFactor}× running average ${lossEma.toFixed(3)}` : null;
    if (spike) {
      // The OPT-175B lesson: go back to known-good weights and step over the batch.
      spikes++;
      flat.restore(good);
      opt.step = goodOptStep;
      const ev: GuardEvent = { type: 'spike', step, loss, gradNorm, reason: spike, action: 'rolled back to the last good state and skipped the batch' };
      log(ev);
      o.onEvent?.(ev);
      step++;
      continue;
    }
    opt.update();
    lossEma = Number.isFinite(lossEma) ? 0.95 * lossEma + 0.05 * loss : loss;
    lastLoss = loss;
    step++;
    tokens += B * T * accum;
    windowTokens += B * T * accum;
    const now = performance.now();
    const m: StepMetrics = { type: 'step', step, loss, lr, gradNorm, tokens, tokensPerSecond: (windowTokens * 1000) / Math.max(1, now - windowStart), elapsedSeconds: elapsed() };
    if (now - windowStart > 5000) {
      windowStart = now;
      windowTokens = 0;
    }
    log(m);
    o.onStep?.(m);
    const atEnd = step === o.steps;
    const stopping = (o.signal?.aborted ?? false) || (o.maxSeconds !== undefined && elapsed() - elapsedBefore >= o.maxSeconds);
    if ((evalEvery > 0 && step % evalEvery === 0) || atEnd) {
      valLoss = evaluate(model, val, evalBatches);
      const e: EvalMetrics = { type: 'eval', step, valLoss, elapsedSeconds: elapsed() };
      log(e);
      o.onEval?.(e);
    }
    if ((checkpointEvery > 0 && step % checkpointEvery === 0) || atEnd || stopping) {
      await flush();
      await saveCheckpoint(o.outDir, opt, { step, tokens, optimizerStep: opt.step, loader: train.state(), lossEma, elapsedSeconds: elapsed() });
      good = flat.snapshot();
      goodOptStep = opt.step;
    }
    if (stopping) break;
    if (step % 16 === 0) await new Promise((r) => setImmediate(r));
  }
  await flush();
  return { steps: step, tokens, finalLoss: lastLoss, valLoss, seconds: elapsed(), spikes, resumedFrom };
}

async function saveCheckpoint(outDir: string, opt: AdamW, meta: CheckpointMeta): Promise<void> {
  const dir = path.join(outDir, CHECKPOINT);
  await mkdir(dir, { recursive: true });
  const s = opt.flat.snapshot();
  await writeSafetensors(
    path.join(dir, 'state.safetensors'),
    [
      { name: 'params', dtype: 'F32', shape: [s.params.length], data: s.params },
      { name: 'adam.m', dtype: 'F32', shape: [s.m.length], data: s.m },
      { name: 'adam.v', dtype: 'F32', shape: [s.v.length], data: s.v },
    ],
    { genlab: JSON.stringify(meta) },
  );
}

async function loadCheckpoint(outDir: string, opt: AdamW, train: BatchLoader): Promise<CheckpointMeta | null> {
  const file = path.join(outDir, CHECKPOINT, 'state.safetensors');
  let reader;
  try {
    reader = openSafetensors(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || /ENOENT|no such file/i.test(String(err))) return null;
    throw err;
  }
  try {
    const meta = JSON.parse(reader.metadata['genlab'] ?? 'null') as CheckpointMeta | null;
    if (!meta) throw new Error(`${file} has no genlab metadata; it is not a genlab checkpoint`);
    const size = opt.flat.size;
    if (reader.info('params').numel !== size) {
      throw new Error(`${file} holds ${reader.info('params').numel} parameters but this model has ${size}; resume with the same --model settings, or train into a new --out folder`);
    }
    opt.flat.restore({ params: reader.readF32('params'), m: reader.readF32('adam.m'), v: reader.readF32('adam.v') });
    opt.step = meta.optimizerStep;
    train.restore(meta.loader);
    return meta;
  } finally {
    reader.close();
  }
}

/** Drops metric lines past the checkpoint, so a resumed run's log reads as one run. */
async function truncateMetrics(file: string, step: number): Promise<void> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return;
  }
  const kept = text.split('\n').filter((line) => {
    if (!line.trim()) return false;
    try {
      return (JSON.parse(line) as { step: number }).step <= step;
    } catch {
      return false;
    }
  });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, kept.map((l) => l + '\n').join(''));
  await rename(tmp, file);
}
