// The one training loop. Pre-training and fine-tuning (trainer.ts), DPO and reward models
// (align/pair-loop.ts) and translation (translate/train.ts, translate/decoder-only.ts) all take
// their optimizer steps here. The loop owns what they share: AdamW, warmup + cosine learning rate
// over a step or time budget, gradient accumulation and clipping, the guard against non-finite
// and spiking losses, periodic evaluation, checkpoints that resume bit-exactly, metrics as JSONL
// and the progress bar. The caller supplies what differs: the loss of a step's batch and what an
// evaluation measures.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { backward } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { mix32 } from '../backend/rng.ts';
import { openSafetensors, writeSafetensors } from '../io/safetensors.ts';
import type { DropoutSeeds } from '../nn/layers.ts';
import { scale } from '../ops/elementwise.ts';
import { AdamW, clipGradNorm, cosineLr } from '../optim/adamw.ts';
import type { TrainingSegment } from '../record/run-record.ts';
import { Tensor } from '../tensor/tensor.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { progressBar } from '../util/progress.ts';

/** What one micro-batch's forward and backward produced. */
export interface StepOutcome {
  /**
   * The micro-batch's mean loss: a graph scalar (the loop runs backward through it, scaled for
   * gradient accumulation), or a number when the step ran its own backward (DPO's and the reward
   * model's gradients come from scalar losses outside the graph).
   */
  loss: Tensor | number;
  /** Logged with the step; a non-finite one counts as a bad step. */
  metrics?: Record<string, number>;
  /** Problems seen in this step, logged as events; training continues. */
  warnings?: Array<{ kind: string; message: string }>;
  /** Token positions trained on and FLOPs computed (forward + backward), for the run record. */
  tokens?: number;
  flops?: number;
}

/** The model whose mode and dropout masks the loop sets at every step. */
export interface TrainableModel {
  readonly device: Device;
  readonly dropoutSeeds: DropoutSeeds;
  train(on?: boolean): unknown;
}

export interface LoopSchedule {
  /** Peak learning rate, reached linearly over `warmup` steps. */
  lr: number;
  /** Where the cosine ends (default lr/10). */
  minLr?: number;
  warmup: number;
  /** Count the cosine's progress from step 0 rather than from the end of warmup. */
  decayFromStart?: boolean;
  /** The cosine also ends when training has run this long: a time budget shapes the schedule. */
  seconds?: number;
}

export interface LoopCheckpoint {
  /** Folder that holds checkpoint/state.safetensors. */
  dir: string;
  /** Save every this many steps (0: only when the run ends or stops). */
  every: number;
  /** Continue from the checkpoint when there is one. */
  resume: boolean;
  /** The caller's state kept in the checkpoint's metadata (a data loader's position), and its restore. */
  state: () => Record<string, unknown>;
  restore: (meta: Record<string, unknown>) => void;
}

export interface LoopGuard {
  /** A finite loss above spikeFactor × its running average (after warmup) is a spike too (default 0: off). */
  spikeFactor?: number;
  /** A bad step restores the state of the last checkpoint (the start when there is none) instead of only skipping the update. */
  rollback?: boolean;
  /** Bad steps in a row after which the run stops with an error (default: never). */
  maxBadSteps?: number;
  /** Appended to that error: what causes non-finite losses in this kind of training, and the flags that help. */
  advice?: string;
}

export interface LoopProgress {
  /** Steps taken (skipped ones included), counting those before a resume. */
  step: number;
  tokens: number;
  flops: number;
  elapsedSeconds: number;
}

export interface LoopOptions<O extends StepOutcome = StepOutcome> {
  model: TrainableModel;
  /** Tensors to train (those that do not require a gradient are left out). */
  parameters: readonly Tensor[];
  /**
   * Forward and backward of micro-batch `micro` of step `step` (both from 0); gradients
   * accumulate into the parameters. Runs inside a device scope, in training mode.
   */
  step: (step: number, micro: number) => O;
  /** Optimizer steps (Infinity: until maxSeconds). */
  steps: number;
  /** Stop after this many seconds of training in this call (a checkpoint is saved first). */
  maxSeconds?: number;
  /**
   * Pause once this many steps are done: checkpoint and return without the final evaluation, as
   * Ctrl-C would; `steps` still shapes the schedule, so a resumed run (in this engine or in
   * PyTorch's, src/train/torch-engine.ts) continues the same curve.
   */
  stopAt?: number;
  schedule: LoopSchedule;
  optimizer: { beta1: number; beta2: number; eps?: number; weightDecay: number };
  /** Clip the global gradient norm to this (0: off; default 1). */
  gradClip?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  seed: number;
  /**
   * The dropout seed of a micro-step (default: from seed, step and micro-step only, so a resumed
   * run redraws the same masks).
   */
  dropoutSeed?: (step: number, micro: number) => number;
  guard?: LoopGuard;
  /** Metrics on held-out data: every evalEvery steps and after the last step. */
  evaluate?: (p: LoopProgress) => Record<string, number> | Promise<Record<string, number>>;
  evalEvery?: number;
  /** JSONL file for step, evaluation and event lines (null: none). */
  logFile: string | null;
  checkpoint?: LoopCheckpoint;
  /** Runs each step's (and evaluation's) synchronous work; a server passes its request queue. */
  runStep?: <T>(fn: () => T) => Promise<T>;
  /** Called with the step number after backward, before clipping and the update (tests inject faults here). */
  afterBackward?: (step: number) => void;
  /** Checks an applied step before it is logged; throwing stops the run. */
  inspect?: (outcome: O, s: { step: number; loss: number; gradNorm: number }) => void;
  /** Draw a progress bar (with a finite step budget). */
  progress?: { label: string; format?: string; fields?: (m: StepRecord, lastEval: EvalRecord | null) => Record<string, string | number> };
  onStep?: (m: StepRecord) => void;
  onEval?: (e: EvalRecord) => void;
  onEvent?: (e: LoopEvent) => void;
  /** Stops before the next step (a checkpoint is saved first). */
  signal?: AbortSignal;
}

/** One applied step, as logged; `step` counts from 1, `tokens` is the running total. */
export interface StepRecord {
  type: 'step';
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
  [metric: string]: number | string;
}

export interface EvalRecord {
  type: 'eval';
  step: number;
  elapsedSeconds: number;
  [metric: string]: number | string;
}

/** A bad step: skipped, or rolled back to the last checkpoint's state. */
export interface GuardEvent {
  type: 'spike';
  step: number;
  kind: 'non-finite' | 'spike';
  loss: number;
  gradNorm: number;
  reason: string;
  action: 'rolled back to the last good state and skipped the batch' | 'skipped the update';
  message: string;
}

/** A problem a step reported; training continues. */
export interface WarningEvent {
  type: 'event';
  step: number;
  kind: string;
  message: string;
}

export type LoopEvent = GuardEvent | WarningEvent;

export interface LoopResult {
  steps: number;
  /** Tokens of the applied steps; FLOPs of every step computed (skipped ones too). */
  tokens: number;
  flops: number;
  /** Loss of the last applied step. */
  finalLoss: number;
  last: StepRecord | null;
  /** The last evaluation's metrics. */
  eval: Record<string, number> | null;
  events: LoopEvent[];
  /** Bad steps (skipped or rolled back). */
  skipped: number;
  seconds: number;
  resumedFrom: number;
  stopped: 'steps' | 'time' | 'signal' | 'paused';
  /** Which engine took which steps, this process's last: read from the checkpoint, then appended. */
  segments: TrainingSegment[];
}

export const CHECKPOINT = 'checkpoint';

/**
 * The metadata of checkpoint/state.safetensors (beside the flat params, adam.m and adam.v): what
 * both engines read to continue a run. lossEma is null before the first step (JSON has no NaN).
 */
export interface CheckpointMeta {
  step: number;
  tokens: number;
  optimizerStep: number;
  lossEma: number | null;
  elapsedSeconds: number;
  flops?: number;
  segments?: TrainingSegment[];
  [state: string]: unknown;
}

export async function runTraining<O extends StepOutcome>(o: LoopOptions<O>): Promise<LoopResult> {
  if (!(o.steps >= 0) || (Number.isFinite(o.steps) && !Number.isInteger(o.steps))) throw new Error(`steps must be a whole number, got ${o.steps}`);
  if (!Number.isFinite(o.steps) && o.maxSeconds === undefined) throw new Error('an unlimited step budget needs a time budget (maxSeconds)');
  const dev = o.model.device;
  const accum = o.gradAccum ?? 1;
  if (!Number.isInteger(accum) || accum < 1) throw new Error(`gradient accumulation must be a positive whole number of micro-batches, got ${accum}`);
  const gradClip = o.gradClip ?? 1;
  const evalEvery = o.evalEvery ?? 0;
  const spikeFactor = o.guard?.spikeFactor ?? 0;
  const maxBad = o.guard?.maxBadSteps ?? Number.POSITIVE_INFINITY;
  const { warmup } = o.schedule;
  const minLr = o.schedule.minLr ?? o.schedule.lr / 10;
  const dropoutSeed = o.dropoutSeed ?? ((step: number, micro: number) => mix32(mix32(o.seed) ^ mix32(step * 64 + micro)));
  const runStep = o.runStep ?? (async <T>(fn: () => T): Promise<T> => fn());
  const opt = new AdamW(o.parameters, { lr: o.schedule.lr, beta1: o.optimizer.beta1, beta2: o.optimizer.beta2, ...(o.optimizer.eps !== undefined ? { eps: o.optimizer.eps } : {}), weightDecay: o.optimizer.weightDecay });
  const flat = opt.flat;

  let step = 0;
  let tokens = 0;
  let flops = 0;
  let lossEma = NaN;
  let elapsedBefore = 0;
  let resumedFrom = 0;
  let resumed = false;
  let earlierSegments: TrainingSegment[] = [];
  const ckpt = o.checkpoint;
  if (ckpt?.resume) {
    const meta = await loadCheckpoint(ckpt.dir, opt);
    if (meta) {
      resumed = true;
      ckpt.restore(meta);
      ({ step, tokens } = meta);
      lossEma = meta.lossEma ?? NaN;
      flops = meta.flops ?? 0;
      earlierSegments = Array.isArray(meta.segments) ? meta.segments : [];
      elapsedBefore = meta.elapsedSeconds;
      resumedFrom = step;
    }
  }
  const log = await MetricsLog.open(o.logFile, resumed ? resumedFrom : null);

  const start = performance.now();
  const elapsed = (): number => elapsedBefore + (performance.now() - start) / 1000;
  const progress = (): LoopProgress => ({ step, tokens, flops, elapsedSeconds: elapsed() });
  // This process's entry once it has taken a step (one that only evaluates and saves adds none).
  const segments = (): TrainingSegment[] => [...earlierSegments, ...(step > resumedFrom ? [{ engine: 'genlab' as const, fromStep: resumedFrom, toStep: step, seconds: elapsed() - elapsedBefore, backend: dev.name, processes: 1, threadsPerProcess: dev.threads }] : [])];
  let good = o.guard?.rollback ? flat.snapshot() : null;
  let goodOptStep = opt.step;
  let lastLoss = NaN;
  let last: StepRecord | null = null;
  let lastEval: EvalRecord | null = null;
  let evalMetrics: Record<string, number> | null = null;
  let lastEvalStep = -1;
  let lastCheckpointStep = resumed ? resumedFrom : -1;
  let skipped = 0;
  let badInRow = 0;
  let stopped: LoopResult['stopped'] = 'steps';
  const events: LoopEvent[] = [];
  const warnedAt = new Map<string, number>();
  const event = (e: LoopEvent): void => {
    events.push(e);
    log.push(e);
    o.onEvent?.(e);
  };
  let windowStart = performance.now();
  let windowTokens = 0;
  const bar = o.progress && Number.isFinite(o.steps) ? progressBar(o.steps, o.progress.label, o.progress.format) : null;
  bar?.update(step);

  const evaluate = async (): Promise<void> => {
    if (!o.evaluate) return;
    const p = progress();
    evalMetrics = await runStep(() => o.evaluate!(p));
    lastEval = { type: 'eval', step, ...evalMetrics, elapsedSeconds: elapsed() };
    lastEvalStep = step;
    log.push(lastEval);
    o.onEval?.(lastEval);
    await log.flush();
  };
  const checkpoint = async (): Promise<void> => {
    if (!ckpt) return;
    const snapshot = flat.snapshot();
    await saveCheckpoint(ckpt.dir, snapshot, { step, tokens, optimizerStep: opt.step, ...ckpt.state(), lossEma: Number.isFinite(lossEma) ? lossEma : null, elapsedSeconds: elapsed(), flops, segments: segments() });
    lastCheckpointStep = step;
    if (good) {
      good = snapshot;
      goodOptStep = opt.step;
    }
    await log.flush();
  };

  const stopAt = Math.min(o.steps, o.stopAt ?? Number.POSITIVE_INFINITY);
  try {
    while (step < o.steps) {
      if (step >= stopAt) {
        stopped = 'paused';
        break;
      }
      if (o.signal?.aborted) {
        stopped = 'signal';
        break;
      }
      if (o.maxSeconds !== undefined && elapsed() - elapsedBefore >= o.maxSeconds) {
        stopped = 'time';
        break;
      }
      const index = step;
      const lr = cosineLr(index, { maxLr: o.schedule.lr, minLr, warmup, totalSteps: o.steps, decayFromStart: o.schedule.decayFromStart ?? false, ...(o.schedule.seconds ? { totalSeconds: o.schedule.seconds, elapsedSeconds: elapsed() } : {}) });
      opt.lr = lr;
      const r = await runStep(() => {
        opt.zeroGrad();
        o.model.train();
        let loss = 0;
        let stepTokens = 0;
        let stepFlops = 0;
        const warnings: Array<{ kind: string; message: string }> = [];
        let outcome!: O;
        for (let micro = 0; micro < accum; micro++) {
          o.model.dropoutSeeds.seed = dropoutSeed(index, micro);
          const out = dev.scope(() => {
            const res = o.step(index, micro);
            if (!(res.loss instanceof Tensor)) return { res, value: res.loss };
            backward(accum === 1 ? res.loss : scale(res.loss, 1 / accum));
            return { res, value: res.loss.item() };
          });
          outcome = out.res;
          loss += out.value;
          stepTokens += outcome.tokens ?? 0;
          stepFlops += outcome.flops ?? 0;
          warnings.push(...(outcome.warnings ?? []));
        }
        loss /= accum;
        o.afterBackward?.(index + 1);
        const gradNorm = gradClip > 0 ? clipGradNorm(flat, gradClip) : flat.gradNorm();
        const metrics = outcome.metrics ?? {};
        const nonFinite = !Number.isFinite(loss) ? 'loss is not finite' : !Number.isFinite(gradNorm) ? 'gradient is not finite' : !Object.values(metrics).every(Number.isFinite) ? 'a logged metric is not finite' : null;
        const spike = nonFinite === null && spikeFactor > 0 && index >= warmup && Number.isFinite(lossEma) && loss > spikeFactor * lossEma;
        const bad = nonFinite !== null ? { kind: 'non-finite' as const, reason: nonFinite } : spike ? { kind: 'spike' as const, reason: `loss ${loss.toFixed(3)} > ${spikeFactor}× running average ${lossEma.toFixed(3)}` } : null;
        if (bad === null) opt.update();
        else if (good) {
          // The OPT-175B lesson: go back to known-good weights and step over the batch.
          flat.restore(good);
          opt.step = goodOptStep;
        }
        return { outcome, loss, gradNorm, metrics, warnings, bad, tokens: stepTokens, flops: stepFlops };
      });
      step++;
      flops += r.flops;
      for (const w of r.warnings) {
        // A persisting problem is reported when it starts and then every 25 steps, not every step.
        const seen = warnedAt.get(w.kind);
        if (seen === undefined || step - seen >= 25) {
          warnedAt.set(w.kind, step);
          event({ type: 'event', step, kind: w.kind, message: w.message });
        }
      }
      if (r.bad !== null) {
        skipped++;
        badInRow++;
        const action = good ? 'rolled back to the last good state and skipped the batch' : 'skipped the update';
        const { kind, reason } = r.bad;
        event({ type: 'spike', step, kind, loss: r.loss, gradNorm: r.gradNorm, reason, action, message: `${reason} (loss ${r.loss}, gradient norm ${r.gradNorm}): ${action}` });
        if (badInRow >= maxBad) throw new Error(`${badInRow} steps in a row gave a non-finite loss or gradient${o.guard?.advice ?? ''}`);
        continue;
      }
      badInRow = 0;
      o.inspect?.(r.outcome, { step, loss: r.loss, gradNorm: r.gradNorm });
      lossEma = Number.isFinite(lossEma) ? 0.95 * lossEma + 0.05 * r.loss : r.loss;
      lastLoss = r.loss;
      tokens += r.tokens;
      windowTokens += r.tokens;
      const now = performance.now();
      last = { type: 'step', step, loss: r.loss, lr, gradNorm: r.gradNorm, tokens, tokensPerSecond: (windowTokens * 1000) / Math.max(1, now - windowStart), elapsedSeconds: elapsed(), ...r.metrics };
      if (now - windowStart > 5000) {
        windowStart = now;
        windowTokens = 0;
      }
      log.push(last);
      bar?.update(step, o.progress?.fields?.(last, lastEval) ?? {});
      o.onStep?.(last);
      if (evalEvery > 0 && step % evalEvery === 0) await evaluate();
      if (ckpt && ckpt.every > 0 && step % ckpt.every === 0) await checkpoint();
      if (step % 8 === 0) {
        await log.flush();
        // A server's queue already lets other work in between steps.
        if (!o.runStep) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (stopped !== 'signal' && stopped !== 'paused' && step > 0 && lastEvalStep !== step) await evaluate();
    // A stopped run always leaves a checkpoint to resume from, even before its first step.
    if (lastCheckpointStep !== step && (step > 0 || stopped !== 'steps')) await checkpoint();
  } finally {
    await log.flush();
    bar?.stop();
  }
  return { steps: step, tokens, flops, finalLoss: lastLoss, last, eval: evalMetrics, events, skipped, seconds: elapsed(), resumedFrom, stopped, segments: segments() };
}

/** Buffered JSONL lines, appended to the file in batches. */
class MetricsLog {
  private readonly lines: string[] = [];

  private constructor(private readonly file: string | null) {}

  /** Starts the file afresh, or keeps its lines up to `keepThrough` (a resumed run's log reads as one run). */
  static async open(file: string | null, keepThrough: number | null): Promise<MetricsLog> {
    if (file) {
      await mkdir(path.dirname(file), { recursive: true });
      if (keepThrough === null) await writeFile(file, '');
      else await truncateLog(file, keepThrough);
    }
    return new MetricsLog(file);
  }

  push(obj: object): void {
    if (this.file) this.lines.push(JSON.stringify(obj) + '\n');
  }

  async flush(): Promise<void> {
    if (!this.file || this.lines.length === 0) return;
    await writeFile(this.file, this.lines.join(''), { flag: 'a' });
    this.lines.length = 0;
  }
}

async function truncateLog(file: string, step: number): Promise<void> {
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
  await writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

/** Writes OUT/checkpoint/state.safetensors: the flat parameter, m and v regions and the metadata. */
export async function saveCheckpoint(outDir: string, s: { params: Float32Array; m: Float32Array; v: Float32Array }, meta: CheckpointMeta): Promise<void> {
  const dir = path.join(outDir, CHECKPOINT);
  await mkdir(dir, { recursive: true });
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

/** Restores the optimizer's flat block (and step) from OUT/checkpoint; null when there is no checkpoint. */
export async function loadCheckpoint(outDir: string, opt: AdamW): Promise<CheckpointMeta | null> {
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
    return meta;
  } finally {
    reader.close();
  }
}
