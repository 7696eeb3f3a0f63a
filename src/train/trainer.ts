// Pre-training and fine-tuning on token batches: the shared loop (loop.ts) with a data loader's
// batches as the step, the model's validation loss as the evaluation and the loader's position in
// the checkpoint, so an interrupted run resumes bit-exactly.

import path from 'node:path';
import { noGrad } from '../autograd/tape.ts';
import type { BatchLoader, LoaderState } from '../data/loader.ts';
import type { CausalLm } from '../generate/generate.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import type { TrainingSegment } from '../record/run-record.ts';
import { runTraining, type EvalRecord, type GuardEvent, type LoopOptions, type LoopResult, type LoopSchedule, type StepRecord } from './loop.ts';

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
  /** Draws a progress bar; fields() fills the format's {names} from the step and the last evaluation. */
  progress?: LoopOptions['progress'];
  /** Stops once the current step is done, checkpointing first (Ctrl-C, time limits). */
  signal?: AbortSignal;
  /** Stops (with a checkpoint) once training has run this long; steps still sets the LR schedule. */
  maxSeconds?: number;
  /** Pauses (with a checkpoint, no final evaluation) once this many steps are done; steps still sets the LR schedule. */
  stopAt?: number;
  /** Called after backward and before clipping/the update with the step's number (from 1); tests inject faults here. */
  afterBackward?: (step: number, model: CausalLm) => void;
}

/** One step as trainLoop logs it (the shared loop's record: loss, lr, gradNorm, tokens, tokens/s, time). */
export type StepMetrics = StepRecord;

export interface EvalMetrics extends EvalRecord {
  valLoss: number;
}

export type { GuardEvent };

export interface TrainResult {
  steps: number;
  tokens: number;
  finalLoss: number;
  valLoss: number;
  seconds: number;
  spikes: number;
  resumedFrom: number;
  stopped: LoopResult['stopped'];
  /** Which engine took which steps (from the checkpoint, this process's last). */
  segments: TrainingSegment[];
}

/**
 * The schedule, optimizer and guard settings trainLoop gives the shared loop, with their defaults
 * resolved: PyTorch's engine (torch-engine.ts) hands the same values to its script.
 */
export function trainSettings(o: TrainLoopOptions): {
  schedule: Required<Pick<LoopSchedule, 'lr' | 'minLr' | 'warmup'>>;
  optimizer: { beta1: number; beta2: number; eps: number; weightDecay: number };
  gradClip: number;
  gradAccum: number;
  evalBatches: number;
  spikeFactor: number;
  seed: number;
} {
  return {
    schedule: { lr: o.lr, minLr: o.minLr ?? o.lr / 10, warmup: o.warmup ?? Math.min(100, Math.floor(o.steps / 10)) },
    optimizer: { beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.95, eps: 1e-8, weightDecay: o.weightDecay ?? 0.1 },
    gradClip: o.gradClip ?? 1,
    gradAccum: o.gradAccum ?? 1,
    evalBatches: o.evalBatches ?? 8,
    spikeFactor: o.spikeFactor ?? 3,
    seed: o.seed ?? 0,
  };
}

/** Mean loss of `batches` sequential batches from `loader` (which is rewound first). */
export function evaluate(model: CausalLm, loader: BatchLoader, batches: number): number {
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
export async function trainLoop(model: CausalLm, train: BatchLoader, val: BatchLoader, o: TrainLoopOptions): Promise<TrainResult> {
  const dev = model.device;
  const B = train.batchSize;
  const T = train.seqLen;
  const ids = dev.heapScope(() => empty(dev, [B, T], 'int32'));
  const targets = dev.heapScope(() => empty(dev, [B, T], 'int32'));
  const batch = { inputs: new Int32Array(B * T), targets: new Int32Array(B * T) };
  const s = trainSettings(o);
  const r = await runTraining({
    model,
    parameters: o.parameters ?? model.parameters(),
    step: () => {
      train.nextInto(batch.inputs, batch.targets);
      ids.set(batch.inputs);
      targets.set(batch.targets);
      return { loss: model.forward(ids, targets).loss!, tokens: B * T };
    },
    steps: o.steps,
    ...(o.maxSeconds !== undefined ? { maxSeconds: o.maxSeconds } : {}),
    ...(o.stopAt !== undefined ? { stopAt: o.stopAt } : {}),
    schedule: s.schedule,
    optimizer: s.optimizer,
    gradClip: s.gradClip,
    gradAccum: s.gradAccum,
    seed: s.seed,
    guard: { spikeFactor: s.spikeFactor, rollback: true },
    evaluate: () => ({ valLoss: evaluate(model, val, s.evalBatches) }),
    evalEvery: o.evalEvery ?? 0,
    logFile: path.join(o.outDir, 'metrics.jsonl'),
    checkpoint: { dir: o.outDir, every: o.checkpointEvery ?? 0, resume: o.resume ?? false, state: () => ({ loader: train.state() }), restore: (meta) => train.restore(meta['loader'] as LoaderState) },
    ...(o.afterBackward ? { afterBackward: (step: number) => o.afterBackward!(step, model) } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
    ...(o.onEval ? { onEval: (e: EvalRecord) => o.onEval!(e as EvalMetrics) } : {}),
    // Token batches raise no step warnings: every event is the guard's.
    ...(o.onEvent ? { onEvent: (e) => o.onEvent!(e as GuardEvent) } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { steps: r.steps, tokens: r.tokens, finalLoss: r.finalLoss, valLoss: r.eval?.['valLoss'] ?? NaN, seconds: r.seconds, spikes: r.skipped, resumedFrom: r.resumedFrom, stopped: r.stopped, segments: r.segments };
}
