// DPO and reward-model training on the shared loop (src/train/loop.ts): seeded batches of
// preference pairs (reshuffled every epoch), AdamW with β2 0.999, and guards against the failure
// modes preference training is known for:
// - non-finite loss or gradient (NaN rewards): the update is skipped and the event logged; several
//   in a row stop the run with an error instead of training on garbage;
// - a gradient that is exactly zero (the loss would sit at log 2 = 0.693 forever): stops the run
//   after a few steps with the likely causes;
// - whatever the step reports as a warning (DPO: chosen log-probabilities collapsing).
// Each step runs through `runStep`, so a server can interleave training steps with requests in
// its generation queue.

import { mix32, Rng } from '../backend/rng.ts';
import type { CausalLm } from '../generate/generate.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { runTraining, type LoopEvent, type LoopOptions, type LoopResult, type StepOutcome as LoopStepOutcome, type StepRecord } from '../train/loop.ts';
import { shuffled } from './preferences.ts';

export interface PairLoopOptions<P> {
  model: CausalLm;
  /** Trainable tensors (LoRA: the adapter's; full: the model's). */
  parameters: readonly Tensor[];
  train: readonly P[];
  steps: number;
  batchSize: number;
  lr: number;
  minLr?: number;
  warmup?: number;
  weightDecay?: number;
  gradClip?: number;
  seed: number;
  /** Forward + backward of one batch (gradients accumulate into the parameters); returns the loss and metrics. */
  step: (batch: readonly P[], step: number) => StepOutcome;
  /** Metrics on held-out data, every evalEvery steps and at the end. */
  evaluate?: () => Record<string, number>;
  evalEvery?: number;
  /** Folder for the JSONL log (null: no file). */
  logFile: string | null;
  /** Runs one step's synchronous work (default: now). A server passes its queue here. */
  runStep?: <T>(fn: () => T) => Promise<T>;
  onStep?: (m: LoopStep) => void;
  onEvent?: (e: LoopEvent) => void;
  signal?: AbortSignal;
  /** Draws a progress bar. */
  progress?: LoopOptions['progress'];
  /** Non-finite steps in a row before the run stops (default 5). */
  maxBadSteps?: number;
  /** Steps with an all-zero gradient before the run stops (default 3). */
  zeroGradSteps?: number;
  /** Idle steps in a row after the first that stop the run (default 5). */
  idleSteps?: number;
}

export interface StepOutcome extends LoopStepOutcome {
  /** Forward + backward ran in the step: the loss is a number. */
  loss: number;
  metrics: Record<string, number>;
  /** Problems seen in this step (logged as events, training continues). */
  warnings?: Array<{ kind: string; message: string }>;
  /** The policy still equals its starting point on this batch (DPO: every reward is 0, the loss log 2). */
  idle?: boolean;
}

/** One applied step as logged: loss, lr, gradNorm, tokens, time and the step's metrics. */
export type LoopStep = StepRecord;
export type { LoopEvent, LoopResult };

export async function runPairLoop<P>(o: PairLoopOptions<P>): Promise<LoopResult> {
  if (o.train.length === 0) throw new Error('no training pairs; give at least one preference pair');
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`steps must be a positive integer, got ${o.steps}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`batch size must be a positive integer, got ${o.batchSize}`);
  const warmup = o.warmup ?? Math.min(10, Math.floor(o.steps / 10));
  const zeroLimit = o.zeroGradSteps ?? 3;
  const idleLimit = o.idleSteps ?? 5;
  const batchSize = Math.min(o.batchSize, o.train.length);
  const rng = new Rng(o.seed);
  let order = shuffled(o.train.length, rng);
  let cursor = 0;
  const nextBatch = (): P[] => {
    const out: P[] = [];
    while (out.length < batchSize) {
      if (cursor >= order.length) {
        order = shuffled(o.train.length, rng);
        cursor = 0;
      }
      out.push(o.train[order[cursor++]!]!);
    }
    return out;
  };
  let zero = 0;
  let idle = 0;
  return runTraining<StepOutcome>({
    model: o.model,
    parameters: o.parameters,
    step: (step) => o.step(nextBatch(), step),
    steps: o.steps,
    schedule: { lr: o.lr, minLr: o.minLr ?? o.lr / 10, warmup },
    optimizer: { beta1: 0.9, beta2: 0.999, weightDecay: o.weightDecay ?? 0 },
    gradClip: o.gradClip ?? 1,
    seed: o.seed,
    // Dropout masks depend only on (seed, step), as they did before the shared loop.
    dropoutSeed: (step) => mix32(mix32(o.seed) ^ mix32(step + 1)),
    guard: { maxBadSteps: o.maxBadSteps ?? 5, advice: ' (NaN rewards); lower --lr, check the pairs for empty completions, or raise --beta' },
    ...(o.evaluate ? { evaluate: o.evaluate } : {}),
    ...(o.evalEvery !== undefined ? { evalEvery: o.evalEvery } : {}),
    logFile: o.logFile,
    ...(o.runStep ? { runStep: o.runStep } : {}),
    inspect: (outcome, s) => {
      zero = s.gradNorm === 0 ? zero + 1 : 0;
      if (zero >= zeroLimit) {
        throw new Error(
          `the gradient was exactly zero for ${zero} steps: nothing trains and the loss stays at ${s.loss.toFixed(4)} (log 2 = 0.6931 for DPO). Check that the trainable parameters take part in the forward pass (LoRA --target names), that the learning rate is above 0, and that chosen and rejected differ`,
        );
      }
      // Step 1 sees the starting policy; from step 2 on an unchanged policy means updates do nothing.
      idle = s.step > 1 && outcome.idle ? idle + 1 : 0;
      if (idle >= idleLimit) {
        throw new Error(
          `the policy has not moved from the reference after ${s.step} steps: every reward is 0 and the loss stays at ${s.loss.toFixed(4)} (log 2 = 0.6931). Check that the learning rate is above 0 (the warmup starts at lr/${warmup || 1}), that the trained parameters are the ones in the forward pass, and that the reference was not computed with the trained weights`,
        );
      }
    },
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}
