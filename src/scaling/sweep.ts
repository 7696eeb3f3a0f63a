// `genlab scaling sweep`: trains every planned (shape, tokens) run with one recipe (same data,
// tokenizer, batch, context, learning-rate schedule and seed) and records the final validation
// loss on one fixed set of validation windows, with N (total and non-embedding), D and the counted
// training FLOPs. The state lives in the sweep folder: sweep.json (settings and plan) and
// runs.json (finished runs, rewritten atomically after each run). Running the command again skips
// finished runs, and an interrupted run continues from its checkpoint.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveSource } from '../data/corpus.ts';
import { BatchLoader } from '../data/loader.ts';
import { Gpt } from '../models/gpt.ts';
import { prepareTrainingData, type TrainingData } from '../train/run.ts';
import { evaluate, trainLoop } from '../train/trainer.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { progressBar } from '../util/progress.ts';
import { planGrid, planSweep, type PlannedRun } from './plan.ts';
import { configFor, flopsPerToken, LADDER, parameterCounts, parseShape, shapeName, type Shape } from './shapes.ts';

export interface SweepSpec {
  /** Corpus sources, as for `genlab train --data`. */
  data: string[];
  vocabSize: number;
  seqLen: number;
  batch: number;
  /** Peak learning rate of a width-64 model; other widths get lr·(64/width)^lrWidthExponent. */
  lr: number;
  lrWidthExponent: number;
  seed: number;
  valFraction: number;
  /** Validation windows: evalBatches × evalBatchSize sequences of seqLen tokens, the same for every run. */
  evalBatches: number;
  evalBatchSize: number;
  budget: number;
  levels: number;
  levelFactor: number;
  minTokensPerParam: number;
  maxTokensPerParam: number;
  maxPerLevel: number;
  minSteps: number;
  /** Shapes to plan with ("L2-C32", ...); empty = the default ladder. */
  shapes: string[];
  /** Token grid: when set, every shape is trained for each count (planGrid), not IsoFLOP levels. */
  tokens: number[];
  /** In a token grid, cells above this many FLOPs are left out (0 = none). */
  maxRunFlops: number;
  cache: string;
}

export const DEFAULT_SWEEP: SweepSpec = {
  data: ['sotu'], vocabSize: 512, seqLen: 64, batch: 8, lr: 5e-3, lrWidthExponent: 0.5, seed: 1, valFraction: 0.05, evalBatches: 64, evalBatchSize: 8,
  budget: 1e12, levels: 4, levelFactor: 3, minTokensPerParam: 4, maxTokensPerParam: 100, maxPerLevel: 4, minSteps: 30, shapes: [], tokens: [], maxRunFlops: 0, cache: '.cache/genlab',
};

export interface RunRecord {
  id: string;
  shape: Shape;
  level: number;
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  tokens: number;
  /** Counted training FLOPs (models/flops.ts: matmuls and attention, forward + backward). */
  flops: number;
  params: { total: number; nonEmbedding: number };
  valLoss: number;
  trainLoss: number;
  seconds: number;
  completedAt: string;
}

export interface SweepState {
  format: 'genlab-scaling-sweep';
  version: 1;
  spec: SweepSpec;
  plan: PlannedRun[];
  dataset: { tokenizerSha256: string; vocabSize: number; trainTokens: number; valTokens: number; evalTokens: number };
}

export const SWEEP_FILE = 'sweep.json';
export const RUNS_FILE = 'runs.json';

export function readSweep(dir: string): SweepState {
  const file = path.join(dir, SWEEP_FILE);
  if (!fs.existsSync(dir)) throw new Error(`the sweep folder ${dir} does not exist; check the path, or start a sweep there with: genlab scaling sweep --out ${dir}`);
  if (!fs.existsSync(file)) throw new Error(`${dir} is not a sweep folder (no ${SWEEP_FILE}); start one with: genlab scaling sweep --out ${dir}`);
  const s = JSON.parse(fs.readFileSync(file, 'utf8')) as SweepState;
  if (s.format !== 'genlab-scaling-sweep' || s.version !== 1) throw new Error(`${file} is not a genlab sweep file (format ${JSON.stringify(s.format)})`);
  return s;
}

export function readRuns(dir: string): RunRecord[] {
  const file = path.join(dir, RUNS_FILE);
  if (!fs.existsSync(file)) return [];
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { runs: RunRecord[] }).runs;
}

/**
 * The learning rate of a shape. Narrow models want larger steps: a probe on this corpus (batch 8,
 * context 64) found the best peak rate near 1e-2 at width 16, 5e-3 to 1e-2 at width 32 and 5e-3
 * at width 128, which lr·(64/width)^0.5 with lr = 5e-3 follows.
 */
export function lrFor(spec: Pick<SweepSpec, 'lr' | 'lrWidthExponent'>, shape: Shape): number {
  return spec.lr * Math.pow(64 / shape.nEmbd, spec.lrWidthExponent);
}

/** The sweep's runs: a token grid when `tokens` is set, IsoFLOP levels from the budget otherwise. */
export function planRuns(spec: SweepSpec): PlannedRun[] {
  const shapes = spec.shapes.length > 0 ? spec.shapes.map(parseShape) : LADDER;
  if (spec.tokens.length > 0) {
    return planGrid({ shapes, tokens: spec.tokens, vocabSize: spec.vocabSize, seqLen: spec.seqLen, batch: spec.batch, ...(spec.maxRunFlops > 0 ? { maxRunFlops: spec.maxRunFlops } : {}) });
  }
  return planSweep({ ...spec, shapes });
}

/** The tokenizer and shards of a sweep (cached; the same for every run and for verify). */
export async function sweepData(spec: SweepSpec, quiet: boolean): Promise<TrainingData> {
  return prepareTrainingData({ sources: spec.data.map((d) => resolveSource(d)), vocabSize: spec.vocabSize, cacheDir: spec.cache, seed: spec.seed, valFraction: spec.valFraction, quiet });
}

export interface RunTarget {
  id: string;
  shape: Shape;
  steps: number;
  level: number;
}

/**
 * Trains one run with the sweep's recipe into `dir` and returns its record. With an existing
 * checkpoint in `dir` it continues from there (bit-exact).
 */
export async function trainRun(spec: SweepSpec, data: TrainingData, target: RunTarget, dir: string, o: { signal?: AbortSignal; onStep?: (tokens: number, loss: number) => void } = {}): Promise<RunRecord | null> {
  const config = configFor(target.shape, data.tokenizer.vocabSize, spec.seqLen);
  const vocab = data.tokenizer.vocabSize;
  const model = new Gpt(config, { seed: spec.seed });
  const train = new BatchLoader({ shards: data.data.trainFiles, batchSize: spec.batch, seqLen: spec.seqLen, mode: 'shuffle', seed: spec.seed, vocabSize: vocab });
  const val = new BatchLoader({ shards: data.data.valFiles, batchSize: spec.evalBatchSize, seqLen: spec.seqLen, mode: 'sequential', seed: spec.seed, vocabSize: vocab });
  if (val.batchesPerEpoch < spec.evalBatches) {
    train.close();
    val.close();
    throw new Error(`the validation split has ${val.batchesPerEpoch} batches of ${spec.evalBatchSize} × ${spec.seqLen} tokens, fewer than evalBatches ${spec.evalBatches}; lower --eval-batches or raise --val-fraction`);
  }
  const t0 = performance.now();
  const lr = lrFor(spec, target.shape);
  try {
    const r = await trainLoop(model, train, val, {
      steps: target.steps,
      lr,
      evalEvery: 0,
      evalBatches: spec.evalBatches,
      checkpointEvery: Math.max(200, Math.ceil(target.steps / 10)),
      seed: spec.seed,
      outDir: dir,
      resume: true,
      ...(o.signal ? { signal: o.signal } : {}),
      onStep: (m) => o.onStep?.(m.tokens, m.loss),
    });
    if (r.steps < target.steps) return null;
    // A run that had finished but was not recorded resumes at its last step without evaluating.
    const valLoss = Number.isNaN(r.valLoss) ? evaluate(model, val, spec.evalBatches) : r.valLoss;
    const tokens = target.steps * spec.batch * spec.seqLen;
    return {
      id: target.id, shape: target.shape, level: target.level, steps: target.steps, batch: spec.batch, seqLen: spec.seqLen, lr,
      tokens, flops: flopsPerToken(config, spec.seqLen) * tokens, params: parameterCounts(config),
      valLoss, trainLoss: r.finalLoss, seconds: (performance.now() - t0) / 1000, completedAt: new Date().toISOString(),
    };
  } finally {
    train.close();
    val.close();
  }
}

export interface SweepResult {
  dir: string;
  state: SweepState;
  runs: RunRecord[];
  /** Runs trained by this call (the others were already done). */
  trained: number;
  interrupted: boolean;
}

/**
 * Plans (or reloads) the sweep in `dir` and trains the runs not yet recorded. `spec` fields
 * override the defaults for a new sweep; for an existing one they must match what it was
 * started with.
 */
export async function runSweep(dir: string, spec: Partial<SweepSpec>, o: { quiet?: boolean; signal?: AbortSignal } = {}): Promise<SweepResult> {
  const quiet = o.quiet ?? false;
  const say = (s: string): void => {
    if (!quiet) process.stderr.write(s + '\n');
  };
  fs.mkdirSync(dir, { recursive: true });
  let state: SweepState;
  if (fs.existsSync(path.join(dir, SWEEP_FILE))) {
    state = readSweep(dir);
    for (const [k, v] of Object.entries(spec)) {
      if (v !== undefined && JSON.stringify(v) !== JSON.stringify(state.spec[k as keyof SweepSpec])) {
        throw new Error(`${dir} holds a sweep started with ${k} = ${JSON.stringify(state.spec[k as keyof SweepSpec])}, not ${JSON.stringify(v)}; resume it without that option or use another --out`);
      }
    }
  } else {
    const full: SweepSpec = { ...DEFAULT_SWEEP, ...Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) };
    const data = await sweepData(full, quiet);
    const plan = planRuns({ ...full, vocabSize: data.tokenizer.vocabSize });
    state = {
      format: 'genlab-scaling-sweep', version: 1, spec: full, plan,
      dataset: {
        tokenizerSha256: data.tokenizerHash, vocabSize: data.tokenizer.vocabSize, trainTokens: data.data.manifest.train.tokens,
        valTokens: data.data.manifest.val.tokens, evalTokens: full.evalBatches * full.evalBatchSize * full.seqLen,
      },
    };
    await writeJsonAtomic(path.join(dir, SWEEP_FILE), state);
  }
  const data = await sweepData(state.spec, quiet);
  if (data.tokenizerHash !== state.dataset.tokenizerSha256) {
    throw new Error(`the corpus or tokenizer of ${dir} changed since the sweep started (tokenizer hash differs); start a new sweep in another folder`);
  }
  const runs = readRuns(dir);
  const done = new Set(runs.map((r) => r.id));
  const todo = state.plan.filter((p) => !done.has(p.id));
  const totalFlops = state.plan.reduce((a, p) => a + p.flops, 0);
  let doneFlops = runs.reduce((a, r) => a + r.flops, 0);
  say(`sweep ${dir}: ${state.plan.length} runs (${runs.length} done), ${totalFlops.toExponential(2)} FLOPs in total; largest run ${Math.max(...state.plan.map((p) => p.flops)).toExponential(2)}`);
  const bar = quiet ? null : progressBar(Math.round(totalFlops / 1e9), 'sweep', 'run {run} {id} | loss {loss}');
  bar?.update(Math.round(doneFlops / 1e9), { run: `${runs.length}/${state.plan.length}`, id: '', loss: '—' });
  let trained = 0;
  let interrupted = false;
  try {
    for (const p of todo) {
      const fpt = p.flops / p.tokens;
      const rec = await trainRun(state.spec, data, p, path.join(dir, 'runs', p.id), {
        ...(o.signal ? { signal: o.signal } : {}),
        onStep: (tokens, loss) => bar?.update(Math.round((doneFlops + tokens * fpt) / 1e9), { run: `${runs.length + 1}/${state.plan.length}`, id: p.id, loss: loss.toFixed(3) }),
      });
      if (rec === null) {
        interrupted = true;
        break;
      }
      runs.push(rec);
      trained++;
      doneFlops += rec.flops;
      await writeJsonAtomic(path.join(dir, RUNS_FILE), { runs });
      if (quiet) continue;
      bar?.update(Math.round(doneFlops / 1e9), { run: `${runs.length}/${state.plan.length}`, id: p.id, loss: rec.valLoss.toFixed(3) });
    }
  } finally {
    bar?.stop();
  }
  if (interrupted) say(`interrupted; run the same command again to continue (finished runs are kept, the current one resumes from its checkpoint)`);
  return { dir, state, runs, trained, interrupted };
}

export function describeRun(r: RunRecord): string {
  return `${shapeName(r.shape).padEnd(8)} N=${r.params.total.toLocaleString().padStart(9)} (${r.params.nonEmbedding.toLocaleString()} non-emb) D=${r.tokens.toLocaleString().padStart(10)} C=${r.flops.toExponential(2)} val loss ${r.valLoss.toFixed(4)} (${r.seconds.toFixed(0)} s)`;
}
