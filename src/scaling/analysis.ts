// `genlab scaling fit | predict | verify`: fits the sweep's runs, predicts the loss of a larger
// run with a bootstrap interval, and trains that run to measure the prediction error and the
// ratio of its compute to the sweep's. Results are JSON files in the sweep folder (results.ts:
// fit.json, predictions.json, verify.json) plus the chart (plots.ts).

import * as path from 'node:path';
import { writeJsonAtomic } from '../util/atomic.ts';
import { progressBar } from '../util/progress.ts';
import { bootstrapChinchilla, computeOptimal, fitChinchilla, fitComputeLaw, paretoFrontier, predictFromCompute, predictLoss, quantile, type ChinchillaParams } from './fit.ts';
import { writeScalingChart } from './plots.ts';
import { FIT_FILE, readFit, readVerifications, recordPrediction, VERIFY_FILE, type FitReport, type ParamKind, type Prediction, type Verification } from './results.ts';
import { configFor, flopsPerToken, LADDER, parameterCounts, parseShape, shapeName, type Shape } from './shapes.ts';
import { readRuns, readSweep, sweepData, trainRun, type RunRecord, type SweepState } from './sweep.ts';

const nOf = (r: RunRecord, kind: ParamKind): number => (kind === 'total' ? r.params.total : r.params.nonEmbedding);

export function fitRuns(runs: readonly RunRecord[], o: { paramKind?: ParamKind; bootstrap?: number; seed?: number } = {}): FitReport {
  const kind = o.paramKind ?? 'total';
  const points = runs.map((r) => ({ n: nOf(r, kind), d: r.tokens, loss: r.valLoss }));
  const fit = fitChinchilla(points);
  const boots = bootstrapChinchilla(points, fit, { samples: o.bootstrap ?? 200, seed: o.seed ?? 1 });
  const ci = Object.fromEntries((['E', 'A', 'B', 'alpha', 'beta'] as const).map((k) => [k, [quantile(boots.map((b) => b[k]), 0.025), quantile(boots.map((b) => b[k]), 0.975)]])) as FitReport['chinchilla']['ci'];
  const frontier = paretoFrontier(runs.map((r) => ({ ...r, loss: r.valLoss })));
  let computeLaw: FitReport['computeLaw'] = null;
  if (frontier.length >= 3) {
    const cl = fitComputeLaw(frontier.map((r) => ({ flops: r.flops, loss: r.valLoss })));
    // Three frontier points can be interpolated by a degenerate law (a → ∞, b → −∞): report none.
    if ([cl.params.a, cl.params.b, cl.params.c, cl.rmseLog].every(Number.isFinite)) computeLaw = { ...cl.params, frontier: frontier.map((r) => r.id), rmseLog: cl.rmseLog };
  }
  const k = quantile(runs.map((r) => r.flops / (nOf(r, kind) * r.tokens)), 0.5);
  const largest = Math.max(...runs.map((r) => r.flops));
  const optimal = fit.params.alpha > 0 && fit.params.beta > 0 ? [10, 100, 1000].map((m) => ({ flops: largest * m, ...computeOptimal(fit.params, largest * m, k) })) : [];
  return {
    format: 'genlab-scaling-fit', createdAt: new Date().toISOString(), paramKind: kind, runs: runs.length,
    chinchilla: { ...fit.params, ci, rmseLog: fit.rmseLog, huberObjective: fit.objective, starts: fit.starts },
    bootstrap: boots, computeLaw, flopsPerParamToken: k,
    sweep: { totalFlops: runs.reduce((a, r) => a + r.flops, 0), largestRunFlops: largest },
    computeOptimal: optimal,
  };
}

export async function fitSweep(dir: string, o: { paramKind?: ParamKind; bootstrap?: number; seed?: number } = {}): Promise<FitReport> {
  // The sweep first: a missing or mistyped folder is named as such, not as one with no runs.
  const state = readSweep(dir);
  const runs = readRuns(dir);
  if (runs.length === 0) throw new Error(`${dir} has no finished runs yet; run: genlab scaling sweep --out ${dir}`);
  const report = fitRuns(runs, o);
  await writeJsonAtomic(path.join(dir, FIT_FILE), report);
  await writeScalingChart(dir, state, runs, report, readVerifications(dir));
  return report;
}

export interface TargetSpec {
  /** A shape ("L4-C128"); with `tokens`. */
  shape?: string;
  tokens?: number;
  /** Or a compute budget: the ladder shape nearest the fit's compute-optimal N, trained for C FLOPs. */
  flops?: number;
}

/**
 * Shapes a compute-optimal target is chosen from. A sweep of one depth fitted a law for that
 * family, so its target keeps the depth and takes any width that is a multiple of 16 (up to
 * 4096); a sweep of mixed depths chooses from the built-in ladder.
 */
export function candidateShapes(state: SweepState): Shape[] {
  const depths = new Set(state.plan.map((p) => p.shape.nLayer));
  if (depths.size !== 1) return [...LADDER];
  const nLayer = state.plan[0]!.shape.nLayer;
  return Array.from({ length: 256 }, (_, i) => parseShape(`L${nLayer}-C${16 * (i + 1)}`));
}

/** Resolves the target run and predicts its loss from the fit. */
export function predictTarget(state: SweepState, fit: FitReport, t: TargetSpec): Prediction {
  const { seqLen, batch } = state.spec;
  const vocab = state.dataset.vocabSize;
  let shape: Shape;
  let steps: number;
  if (t.shape !== undefined) {
    if (t.tokens === undefined) throw new Error('--model needs --tokens (training tokens of the target run)');
    shape = parseShape(t.shape);
    steps = Math.max(1, Math.round(t.tokens / (batch * seqLen)));
  } else if (t.flops !== undefined) {
    const opt = computeOptimal(fit.chinchilla, t.flops, fit.flopsPerParamToken);
    const nOfShape = (s: Shape): number => { const p = parameterCounts(configFor(s, vocab, seqLen)); return fit.paramKind === 'total' ? p.total : p.nonEmbedding; };
    shape = [...candidateShapes(state)].sort((a, b) => Math.abs(Math.log(nOfShape(a) / opt.n)) - Math.abs(Math.log(nOfShape(b) / opt.n)))[0]!;
    steps = Math.max(1, Math.round(t.flops / flopsPerToken(configFor(shape, vocab, seqLen), seqLen) / (batch * seqLen)));
  } else throw new Error('name the target run: --model SHAPE --tokens N, or --flops C for a compute-optimal one');
  const config = configFor(shape, vocab, seqLen);
  const tokens = steps * batch * seqLen;
  const params = parameterCounts(config);
  const n = fit.paramKind === 'total' ? params.total : params.nonEmbedding;
  const flops = flopsPerToken(config, seqLen) * tokens;
  const samples = fit.bootstrap.map((b) => predictLoss(b, n, tokens));
  return {
    id: `${shapeName(shape)}-D${tokens}`, shape, steps, tokens, n, params, flops,
    loss: predictLoss(fit.chinchilla, n, tokens),
    interval: [quantile(samples, 0.025), quantile(samples, 0.975)],
    lossFromCompute: fit.computeLaw ? predictFromCompute(fit.computeLaw, flops) : null,
    ratioToLargestRun: flops / fit.sweep.largestRunFlops,
    ratioToSweep: flops / fit.sweep.totalFlops,
  };
}

/** Predicts the target, trains it with the sweep's recipe (resumable), and records the error. */
export async function verifyTarget(dir: string, t: TargetSpec, o: { quiet?: boolean; signal?: AbortSignal } = {}): Promise<Verification | null> {
  const state = readSweep(dir);
  const fit = readFit(dir);
  const pred = predictTarget(state, fit, t);
  // The prediction is on disk (and in the chart) before any compute is spent on the target.
  await recordPrediction(dir, pred);
  await writeScalingChart(dir, state, readRuns(dir), fit, readVerifications(dir));
  if (!o.quiet) process.stderr.write(formatPrediction(pred) + '\n');
  const data = await sweepData(state.spec, o.quiet ?? false);
  if (data.tokenizerHash !== state.dataset.tokenizerSha256) throw new Error(`the corpus or tokenizer of ${dir} changed since the sweep; verify needs the sweep's data`);
  const bar = o.quiet ? null : progressBar(pred.steps, `verify ${pred.id}`, 'loss {loss}');
  let run: RunRecord | null;
  try {
    run = await trainRun(state.spec, data, { id: pred.id, shape: pred.shape, steps: pred.steps, level: -1 }, path.join(dir, 'verify', pred.id), {
      ...(o.signal ? { signal: o.signal } : {}),
      onStep: (tokens, loss) => bar?.update(Math.round(tokens / (state.spec.batch * state.spec.seqLen)), { loss: loss.toFixed(3) }),
    });
  } finally {
    bar?.stop();
  }
  if (run === null) return null;
  const v: Verification = {
    prediction: pred, run, relativeError: (pred.loss - run.valLoss) / run.valLoss,
    insideInterval: run.valLoss >= pred.interval[0] && run.valLoss <= pred.interval[1], fitParamKind: fit.paramKind,
  };
  const all = readVerifications(dir).filter((x) => x.prediction.id !== pred.id);
  all.push(v);
  await writeJsonAtomic(path.join(dir, VERIFY_FILE), { verifications: all });
  await writeScalingChart(dir, state, readRuns(dir), fit, all);
  return v;
}

export function formatFit(f: FitReport): string {
  const c = f.chinchilla;
  const ci = (k: keyof ChinchillaParams, d = 3): string => (f.bootstrap.length === 0 ? '' : `[${c.ci[k][0].toFixed(d)}, ${c.ci[k][1].toFixed(d)}]`);
  const lines = [
    `L(N, D) = E + A/N^α + B/D^β   (N = ${f.paramKind === 'total' ? 'all parameters' : 'non-embedding parameters'}, ${f.runs} runs, Huber δ = 1e-3 on log-loss, ${c.starts} L-BFGS starts, ${f.bootstrap.length} bootstrap refits)`,
    `  E = ${c.E.toFixed(3)} ${ci('E')}   A = ${c.A.toPrecision(4)} ${ci('A', 1)}   B = ${c.B.toPrecision(4)} ${ci('B', 1)}`,
    `  α = ${c.alpha.toFixed(3)} ${ci('alpha')}   β = ${c.beta.toFixed(3)} ${ci('beta')}   (${f.bootstrap.length === 0 ? `no intervals: ${f.runs} runs for 5 parameters` : '95% intervals'}; rms log error ${c.rmseLog.toExponential(2)})`,
  ];
  if (f.computeLaw) lines.push(`L(C) = a·C^b + c on the ${f.computeLaw.frontier.length}-run frontier: a = ${f.computeLaw.a.toPrecision(4)}, b = ${f.computeLaw.b.toFixed(4)}, c = ${f.computeLaw.c.toFixed(3)} (rms log error ${f.computeLaw.rmseLog.toExponential(2)})`);
  lines.push(`compute: sweep total ${f.sweep.totalFlops.toExponential(2)} FLOPs, largest run ${f.sweep.largestRunFlops.toExponential(2)}; C ≈ ${f.flopsPerParamToken.toFixed(2)}·N·D`);
  for (const o of f.computeOptimal) lines.push(`  compute-optimal at ${o.flops.toExponential(1)} FLOPs: N ≈ ${Math.round(o.n).toLocaleString()}, D ≈ ${Math.round(o.d).toLocaleString()} tokens, loss ≈ ${o.loss.toFixed(4)}`);
  return lines.join('\n');
}

export function formatPrediction(p: Prediction): string {
  return [
    `target ${p.id}: N = ${p.n.toLocaleString()}, D = ${p.tokens.toLocaleString()} tokens (${p.steps} steps), C = ${p.flops.toExponential(2)} FLOPs`,
    `  = ${p.ratioToLargestRun.toFixed(0)}× the largest sweep run, ${p.ratioToSweep.toFixed(1)}× the whole sweep`,
    `  predicted validation loss ${p.loss.toFixed(4)}, ${Number.isFinite(p.interval[0]) ? `95% interval [${p.interval[0].toFixed(4)}, ${p.interval[1].toFixed(4)}]` : 'no interval (too few runs to bootstrap)'}${p.lossFromCompute !== null ? `; L(C) frontier at this compute: ${p.lossFromCompute.toFixed(4)}` : ''}`,
  ].join('\n');
}
