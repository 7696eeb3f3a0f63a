// The optimisation loop shared by DPO and reward-model training: seeded batches of preference
// pairs (reshuffled every epoch), AdamW with warmup + cosine learning rate, gradient clipping,
// metrics as JSONL, and guards against the failure modes preference training is known for:
// - non-finite loss or gradient (NaN rewards): the update is skipped and the event logged; several
//   in a row stop the run with an error instead of training on garbage;
// - a gradient that is exactly zero (the loss would sit at log 2 = 0.693 forever): stops the run
//   after a few steps with the likely causes;
// - whatever the step reports as a warning (DPO: chosen log-probabilities collapsing).
// Each step runs through `runStep`, so a server can interleave training steps with requests in
// its generation queue.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mix32, Rng } from '../backend/rng.ts';
import type { Gpt } from '../models/gpt.ts';
import { AdamW, clipGradNorm, cosineLr } from '../optim/adamw.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { shuffled } from './preferences.ts';

export interface PairLoopOptions<P> {
  model: Gpt;
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
  /** Non-finite steps in a row before the run stops (default 5). */
  maxBadSteps?: number;
  /** Steps with an all-zero gradient before the run stops (default 3). */
  zeroGradSteps?: number;
  /** Idle steps in a row after the first that stop the run (default 5). */
  idleSteps?: number;
}

export interface StepOutcome {
  loss: number;
  metrics: Record<string, number>;
  /** Problems seen in this step (logged as events, training continues). */
  warnings?: Array<{ kind: string; message: string }>;
  /** The policy still equals its starting point on this batch (DPO: every reward is 0, the loss log 2). */
  idle?: boolean;
}

export interface LoopStep {
  type: 'step';
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  elapsedSeconds: number;
  [metric: string]: number | string;
}

export interface LoopEvent {
  type: 'event';
  step: number;
  kind: string;
  message: string;
}

export interface LoopResult {
  steps: number;
  last: LoopStep | null;
  eval: Record<string, number> | null;
  events: LoopEvent[];
  seconds: number;
  skipped: number;
}

export async function runPairLoop<P>(o: PairLoopOptions<P>): Promise<LoopResult> {
  if (o.train.length === 0) throw new Error('no training pairs; give at least one preference pair');
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`steps must be a positive integer, got ${o.steps}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`batch size must be a positive integer, got ${o.batchSize}`);
  const opt = new AdamW(o.parameters, { lr: o.lr, weightDecay: o.weightDecay ?? 0, beta1: 0.9, beta2: 0.999 });
  const flat = opt.flat;
  const warmup = o.warmup ?? Math.min(10, Math.floor(o.steps / 10));
  const minLr = o.minLr ?? o.lr / 10;
  const gradClip = o.gradClip ?? 1;
  const maxBad = o.maxBadSteps ?? 5;
  const zeroLimit = o.zeroGradSteps ?? 3;
  const idleLimit = o.idleSteps ?? 5;
  const runStep = o.runStep ?? (async <T>(fn: () => T): Promise<T> => fn());
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

  const lines: string[] = [];
  if (o.logFile) {
    await mkdir(path.dirname(o.logFile), { recursive: true });
    await writeFile(o.logFile, '');
  }
  const flush = async (): Promise<void> => {
    if (!o.logFile || lines.length === 0) return;
    await writeFile(o.logFile, lines.join(''), { flag: 'a' });
    lines.length = 0;
  };
  const log = (obj: object): void => {
    lines.push(JSON.stringify(obj) + '\n');
  };
  const events: LoopEvent[] = [];
  const event = (step: number, kind: string, message: string): void => {
    const e: LoopEvent = { type: 'event', step, kind, message };
    events.push(e);
    log(e);
    o.onEvent?.(e);
  };

  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  let last: LoopStep | null = null;
  let evalMetrics: Record<string, number> | null = null;
  let bad = 0;
  let zero = 0;
  let idle = 0;
  let skipped = 0;
  let step = 0;
  const warnedAt = new Map<string, number>();
  while (step < o.steps) {
    if (o.signal?.aborted) break;
    const lr = cosineLr(step, { maxLr: o.lr, minLr, warmup, totalSteps: o.steps });
    opt.lr = lr;
    const batch = nextBatch();
    const outcome = await runStep(() => {
      opt.zeroGrad();
      o.model.train();
      // Dropout masks depend only on (seed, step).
      o.model.dropoutSeeds.seed = mix32(mix32(o.seed) ^ mix32(step + 1));
      const out = o.step(batch, step);
      const gradNorm = gradClip > 0 ? clipGradNorm(flat, gradClip) : flat.gradNorm();
      const finite = Number.isFinite(out.loss) && Number.isFinite(gradNorm) && Object.values(out.metrics).every(Number.isFinite);
      if (finite) opt.update();
      return { ...out, gradNorm, finite };
    });
    step++;
    for (const w of outcome.warnings ?? []) {
      // A persisting problem is reported when it starts and then every 25 steps, not every step.
      const seen = warnedAt.get(w.kind);
      if (seen === undefined || step - seen >= 25) {
        warnedAt.set(w.kind, step);
        event(step, w.kind, w.message);
      }
    }
    if (!outcome.finite) {
      skipped++;
      bad++;
      event(step, 'non-finite', `loss ${outcome.loss}, gradient norm ${outcome.gradNorm}: the update was skipped`);
      if (bad >= maxBad) {
        await flush();
        throw new Error(`${bad} steps in a row gave a non-finite loss or gradient (NaN rewards); lower --lr, check the pairs for empty completions, or raise --beta`);
      }
      continue;
    }
    bad = 0;
    zero = outcome.gradNorm === 0 ? zero + 1 : 0;
    if (zero >= zeroLimit) {
      await flush();
      throw new Error(
        `the gradient was exactly zero for ${zero} steps: nothing trains and the loss stays at ${outcome.loss.toFixed(4)} (log 2 = 0.6931 for DPO). Check that the trainable parameters take part in the forward pass (LoRA --target names), that the learning rate is above 0, and that chosen and rejected differ`,
      );
    }
    // Step 1 sees the starting policy; from step 2 on an unchanged policy means updates do nothing.
    idle = step > 1 && outcome.idle ? idle + 1 : 0;
    if (idle >= idleLimit) {
      await flush();
      throw new Error(
        `the policy has not moved from the reference after ${step} steps: every reward is 0 and the loss stays at ${outcome.loss.toFixed(4)} (log 2 = 0.6931). Check that the learning rate is above 0 (the warmup starts at lr/${warmup || 1}), that the trained parameters are the ones in the forward pass, and that the reference was not computed with the trained weights`,
      );
    }
    const m: LoopStep = { type: 'step', step, loss: outcome.loss, lr, gradNorm: outcome.gradNorm, elapsedSeconds: elapsed(), ...outcome.metrics };
    last = m;
    log(m);
    o.onStep?.(m);
    if (o.evaluate && ((o.evalEvery && step % o.evalEvery === 0) || step === o.steps)) {
      evalMetrics = await runStep(() => o.evaluate!());
      log({ type: 'eval', step, ...evalMetrics });
    }
    if (step % 8 === 0) {
      await flush();
      if (!o.runStep) await new Promise((r) => setImmediate(r));
    }
  }
  if (o.evaluate && evalMetrics === null && step > 0 && !o.signal?.aborted) {
    evalMetrics = await runStep(() => o.evaluate!());
    log({ type: 'eval', step, ...evalMetrics });
  }
  await flush();
  return { steps: step, last, eval: evalMetrics, events, seconds: elapsed(), skipped };
}
