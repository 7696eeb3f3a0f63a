// Scaling sweep folders served to the web app (`genlab serve --scaling DIR`): each request reads the
// folder again through src/scaling's own readers (a sweep may still be running, or be refitted while
// the server is up), checks every record the app uses, and builds the chart options and a
// table-ready summary. A missing or damaged file becomes an ApiError that names the file and the
// command that rewrites it, never a crash or a half-drawn chart.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { scalingChartOptions } from '../scaling/plots.ts';
import { FIT_FILE, PREDICTIONS_FILE, readFit, readPredictions, readVerifications, VERIFY_FILE, type FitReport, type Prediction, type Verification } from '../scaling/results.ts';
import { shapeName, type Shape } from '../scaling/shapes.ts';
import { readRuns, readSweep, RUNS_FILE, SWEEP_FILE, type RunRecord, type SweepState } from '../scaling/sweep.ts';
import { ApiError } from './errors.ts';
import { relativeInside } from './shown-path.ts';
import type { Computed, ScalingDetail, ScalingPredictionRow, ScalingSummary, ScalingSweepEntry } from './wire.ts';

export interface ScalingSource {
  /** URL id: the folder name, with -2, -3… when two folders share a name. */
  id: string;
  /** The folder name. */
  name: string;
  /** The folder as shown to people: relative to the working directory when inside it. */
  folder: string;
  /** Absolute path. */
  dir: string;
}

export interface LoadedSweep {
  source: ScalingSource;
  state: SweepState;
  runs: RunRecord[];
  fit: FitReport | null;
  predictions: Prediction[];
  verifications: Verification[];
}

/** The sweep folders a server shows; each must exist and hold a sweep.json when the server starts. */
export function scalingSources(dirs: readonly string[], cwd: string = process.cwd()): ScalingSource[] {
  const out: ScalingSource[] = [];
  for (const given of dirs) {
    const dir = path.resolve(cwd, given);
    if (out.some((s) => s.dir === dir)) continue;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(dir);
    } catch {
      throw new Error(`the scaling sweep folder ${given} does not exist; create it with \`genlab scaling sweep --out ${given}\` or fix the --scaling path`);
    }
    if (!stat.isDirectory()) throw new Error(`--scaling ${given} is a file, not a sweep folder; pass the folder given to \`genlab scaling sweep --out\``);
    try {
      checkSweepState(readSweep(dir));
    } catch (err) {
      const why = err instanceof Invalid ? `${path.join(given, SWEEP_FILE)} is damaged (${err.message}); start the sweep again in a new folder with \`genlab scaling sweep --out DIR\`` : (err as Error).message;
      throw new Error(`--scaling ${given}: ${why}`);
    }
    const name = path.basename(dir);
    const base = name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'sweep';
    let id = base;
    for (let i = 2; out.some((s) => s.id === id); i++) id = `${base}-${i}`;
    const rel = relativeInside(dir, cwd);
    out.push({ id, name, folder: rel !== null && rel !== '.' ? rel : dir, dir });
  }
  return out;
}

// ---- Record checks: the reader functions parse; these make sure the parsed values are usable. ----

class Invalid extends Error {}

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`${where} must be an object, got ${show(v)}`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new Invalid(`${where} must be an array, got ${show(v)}`);
  return v;
}

function num(v: unknown, where: string, o: { positive?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(`${where} must be a finite number, got ${show(v)}`);
  if (o.positive && !(v > 0)) throw new Invalid(`${where} must be positive, got ${v}`);
  return v;
}

/**
 * A computed value: a finite number, or null, which is how JSON writes the NaN or ±Infinity a
 * degenerate fit produces (an overflowing closed form, a diverged run); the app shows it as "—".
 */
function computed(v: unknown, where: string): void {
  if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new Invalid(`${where} must be a number (or null), got ${show(v)}`);
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new Invalid(`${where} must be a non-empty string, got ${show(v)}`);
  return v;
}

function pair(v: unknown, where: string): void {
  const a = arr(v, where);
  if (a.length !== 2) throw new Invalid(`${where} must be [low, high], got ${show(v)}`);
  a.forEach((x, i) => computed(x, `${where}[${i}]`));
}

function checkShape(v: unknown, where: string): void {
  const s = obj(v, where);
  for (const k of ['nLayer', 'nEmbd', 'nHead'] as const) {
    if (!Number.isInteger(s[k]) || (s[k] as number) < 1) throw new Invalid(`${where}.${k} must be a positive integer, got ${show(s[k])}`);
  }
}

function checkParams(v: unknown, where: string): void {
  const p = obj(v, where);
  num(p['total'], `${where}.total`, { positive: true });
  num(p['nonEmbedding'], `${where}.nonEmbedding`, { positive: true });
}

function checkRun(v: unknown, where: string): void {
  const r = obj(v, where);
  str(r['id'], `${where}.id`);
  checkShape(r['shape'], `${where}.shape`);
  checkParams(r['params'], `${where}.params`);
  for (const k of ['tokens', 'flops'] as const) num(r[k], `${where}.${k}`, { positive: true });
  computed(r['valLoss'], `${where}.valLoss`);
}

function checkPrediction(v: unknown, where: string): void {
  const p = obj(v, where);
  str(p['id'], `${where}.id`);
  checkShape(p['shape'], `${where}.shape`);
  checkParams(p['params'], `${where}.params`);
  for (const k of ['n', 'tokens', 'flops', 'ratioToLargestRun', 'ratioToSweep'] as const) num(p[k], `${where}.${k}`, { positive: true });
  computed(p['loss'], `${where}.loss`);
  pair(p['interval'], `${where}.interval`);
  computed(p['lossFromCompute'], `${where}.lossFromCompute`);
}

function checkVerification(v: unknown, where: string): void {
  const x = obj(v, where);
  checkPrediction(x['prediction'], `${where}.prediction`);
  checkRun(x['run'], `${where}.run`);
  computed(x['relativeError'], `${where}.relativeError`);
  if (typeof x['insideInterval'] !== 'boolean') throw new Invalid(`${where}.insideInterval must be true or false, got ${show(x['insideInterval'])}`);
}

function checkFit(v: unknown): void {
  const f = obj(v, 'the file');
  if (f['format'] !== 'genlab-scaling-fit') throw new Invalid(`format must be "genlab-scaling-fit", got ${show(f['format'])}`);
  if (f['paramKind'] !== 'total' && f['paramKind'] !== 'nonEmbedding') throw new Invalid(`paramKind must be "total" or "nonEmbedding", got ${show(f['paramKind'])}`);
  num(f['runs'], 'runs', { positive: true });
  const c = obj(f['chinchilla'], 'chinchilla');
  const ci = obj(c['ci'], 'chinchilla.ci');
  for (const k of ['E', 'A', 'B', 'alpha', 'beta'] as const) {
    computed(c[k], `chinchilla.${k}`);
    pair(ci[k], `chinchilla.ci.${k}`);
  }
  computed(c['rmseLog'], 'chinchilla.rmseLog');
  arr(f['bootstrap'], 'bootstrap');
  if (f['computeLaw'] !== null) {
    const l = obj(f['computeLaw'], 'computeLaw');
    for (const k of ['a', 'b', 'c', 'rmseLog'] as const) computed(l[k], `computeLaw.${k}`);
    arr(l['frontier'], 'computeLaw.frontier').forEach((id, i) => str(id, `computeLaw.frontier[${i}]`));
  }
  num(f['flopsPerParamToken'], 'flopsPerParamToken', { positive: true });
  const s = obj(f['sweep'], 'sweep');
  num(s['totalFlops'], 'sweep.totalFlops', { positive: true });
  num(s['largestRunFlops'], 'sweep.largestRunFlops', { positive: true });
  arr(f['computeOptimal'], 'computeOptimal').forEach((o, i) => {
    const x = obj(o, `computeOptimal[${i}]`);
    num(x['flops'], `computeOptimal[${i}].flops`, { positive: true });
    for (const k of ['n', 'd', 'loss'] as const) computed(x[k], `computeOptimal[${i}].${k}`);
  });
}

function checkSweepState(v: unknown): void {
  const s = obj(v, 'the file');
  const spec = obj(s['spec'], 'spec');
  arr(spec['data'], 'spec.data').forEach((d, i) => str(d, `spec.data[${i}]`));
  for (const k of ['vocabSize', 'seqLen', 'batch', 'budget'] as const) num(spec[k], `spec.${k}`, { positive: true });
  arr(s['plan'], 'plan');
}

// ---- Reading a folder ----

const FIX: Record<string, (folder: string) => string> = {
  [SWEEP_FILE]: () => 'restore it from a copy (it is written once, when the sweep starts), or start the sweep again in a new folder with `genlab scaling sweep --out DIR`',
  [RUNS_FILE]: (d) => `delete it and run \`genlab scaling sweep --out ${d}\` again: the finished runs resume from their checkpoints and are recorded again`,
  [FIT_FILE]: (d) => `rewrite it with \`genlab scaling fit ${d}\``,
  [PREDICTIONS_FILE]: (d) => `delete it and record the predictions again with \`genlab scaling predict ${d} --model SHAPE --tokens N\``,
  [VERIFY_FILE]: (d) => `delete it and run \`genlab scaling verify ${d} --model SHAPE --tokens N\` again: trained targets resume from their checkpoints`,
};

/** Runs one of src/scaling's readers and checks what it returns; any failure names the file. */
function readChecked<T>(src: ScalingSource, file: string, read: () => T, check: (v: T) => void): T {
  const shown = path.join(src.folder, file);
  let value: T;
  try {
    value = read();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = err instanceof SyntaxError ? `it is not valid JSON (${e.message})` : e.code ? `it cannot be read (${e.code}: ${e.message})` : `it does not hold what genlab writes there (${e.message})`;
    throw new ApiError(500, `Cannot read ${shown}: ${why}. To fix it, ${FIX[file]!(src.folder)}.`, null, 'invalid_sweep_file');
  }
  try {
    check(value);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    throw new ApiError(500, `${shown} is not a valid genlab scaling file: ${err.message}. To fix it, ${FIX[file]!(src.folder)}.`, null, 'invalid_sweep_file');
  }
  return value;
}

export function loadSweep(src: ScalingSource): LoadedSweep {
  if (!fs.existsSync(path.join(src.dir, SWEEP_FILE))) {
    throw new ApiError(404, `${path.join(src.folder, SWEEP_FILE)} no longer exists: the sweep folder was moved or deleted after the server started. Restart the server with the folder's new path in --scaling.`, 'id', 'sweep_not_found');
  }
  const state = readChecked(src, SWEEP_FILE, () => readSweep(src.dir), checkSweepState);
  const runs = readChecked(src, RUNS_FILE, () => readRuns(src.dir), (rs) => arr(rs, 'runs').forEach((r, i) => checkRun(r, `runs[${i}]`)));
  // No fit.json yet is a state, not an error: the app says which command makes one.
  const fit = fs.existsSync(path.join(src.dir, FIT_FILE)) ? readChecked(src, FIT_FILE, () => readFit(src.dir), checkFit) : null;
  const predictions = readChecked(src, PREDICTIONS_FILE, () => readPredictions(src.dir), (ps) => arr(ps, 'predictions').forEach((p, i) => checkPrediction(p, `predictions[${i}]`)));
  const verifications = readChecked(src, VERIFY_FILE, () => readVerifications(src.dir), (vs) => arr(vs, 'verifications').forEach((v, i) => checkVerification(v, `verifications[${i}]`)));
  return { source: src, state, runs, fit, predictions, verifications };
}

// ---- What the API returns (the types are in wire.ts) ----

export function listEntry(src: ScalingSource): ScalingSweepEntry {
  const base = { id: src.id, name: src.name, folder: src.folder };
  try {
    const s = loadSweep(src);
    return { ...base, runs: s.runs.length, planned_runs: s.state.plan.length, fit: s.fit !== null, predictions: predictionRows(s).length, verifications: s.verifications.length, error: null };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { ...base, runs: 0, planned_runs: 0, fit: false, predictions: 0, verifications: 0, error: err.message };
  }
}

/** Null for what JSON cannot hold (NaN, ±Infinity); the files already hold null for them. */
const finite = (v: number | null | undefined): Computed => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const finitePair = (p: readonly [number, number]): [Computed, Computed] => [finite(p[0]), finite(p[1])];

type FitParam = NonNullable<ScalingSummary['fit']>['params'][number];

const PARAMS = [
  ['E', 'E'],
  ['A', 'A'],
  ['alpha', 'α'],
  ['B', 'B'],
  ['beta', 'β'],
] as const;

/**
 * One row per target: predictions.json's, with the measurement of verify.json when the target was
 * trained. A verified target shows the prediction it was verified against (the one its error is
 * relative to), even if the target was predicted again after a refit.
 */
function predictionRows(s: Pick<LoadedSweep, 'predictions' | 'verifications'>): ScalingPredictionRow[] {
  const verified = new Map(s.verifications.map((v) => [v.prediction.id, v]));
  const ids = [...new Set([...s.predictions.map((p) => p.id), ...s.verifications.map((v) => v.prediction.id)])];
  return ids.map((id): ScalingPredictionRow => {
    const v = verified.get(id);
    const p = v?.prediction ?? s.predictions.find((x) => x.id === id)!;
    return {
      id,
      shape: shapeName(p.shape as Shape),
      n: p.n,
      tokens: p.tokens,
      flops: p.flops,
      ratio_to_largest_run: p.ratioToLargestRun,
      ratio_to_sweep: p.ratioToSweep,
      predicted: finite(p.loss),
      interval: finitePair(p.interval),
      loss_from_compute: finite(p.lossFromCompute),
      measured: v ? finite(v.run.valLoss) : null,
      error_percent: v ? finite(100 * v.relativeError) : null,
      inside_interval: v ? v.insideInterval : null,
    };
  });
}

export function sweepSummary(s: LoadedSweep): ScalingSummary {
  const f = s.fit;
  const d = s.source.folder;
  const next =
    s.runs.length === 0
      ? `genlab scaling sweep --out ${d}`
      : f === null
        ? `genlab scaling fit ${d}`
        : s.predictions.length === 0 && s.verifications.length === 0
          ? `genlab scaling predict ${d} --flops ${(f.sweep.largestRunFlops * 100).toExponential(1)}`
          : null;
  return {
    sweep: {
      data: s.state.spec.data,
      vocab_size: s.state.spec.vocabSize,
      seq_len: s.state.spec.seqLen,
      batch: s.state.spec.batch,
      budget: s.state.spec.budget,
      planned_runs: s.state.plan.length,
      finished_runs: s.runs.length,
      total_flops: s.runs.reduce((a, r) => a + r.flops, 0),
      largest_run_flops: s.runs.length > 0 ? Math.max(...s.runs.map((r) => r.flops)) : null,
    },
    fit: f && {
      param_kind: f.paramKind,
      runs: f.runs,
      stale: f.runs !== s.runs.length,
      bootstrap_samples: f.bootstrap.length,
      rmse_log: finite(f.chinchilla.rmseLog),
      flops_per_param_token: f.flopsPerParamToken,
      params: PARAMS.map(([name, symbol]): FitParam => ({ name, symbol, value: finite(f.chinchilla[name]), interval: finitePair(f.chinchilla.ci[name]) })),
    },
    compute_law: f?.computeLaw ? { a: finite(f.computeLaw.a), b: finite(f.computeLaw.b), c: finite(f.computeLaw.c), frontier_runs: f.computeLaw.frontier.length, rmse_log: finite(f.computeLaw.rmseLog) } : null,
    compute_optimal: (f?.computeOptimal ?? []).map((o): ScalingSummary['compute_optimal'][number] => ({ multiple: Math.round(o.flops / f!.sweep.largestRunFlops), flops: o.flops, n: finite(o.n), d: finite(o.d), loss: finite(o.loss) })),
    predictions: predictionRows(s),
    next_step: next,
  };
}

/** GET /api/scaling/:id: the records as the files hold them, the chart and the summary. */
export function sweepDetail(s: LoadedSweep): ScalingDetail {
  // The options go out as JSON: functions (the axis label formatter) are dropped and the app adds
  // its own, with a layout for the screen it is on.
  const chart = s.runs.length > 0 ? (JSON.parse(JSON.stringify(scalingChartOptions(s.runs, s.fit, s.predictions, s.verifications))) as Record<string, unknown>) : null;
  return {
    id: s.source.id,
    name: s.source.name,
    folder: s.source.folder,
    runs: s.runs,
    fit: s.fit,
    predictions: s.predictions,
    verifications: s.verifications,
    chart,
    summary: sweepSummary(s),
  };
}
