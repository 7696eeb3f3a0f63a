// The result files of a sweep folder beside its runs: fit.json (the fitted laws), predictions.json
// (every target predicted, written before any compute is spent on it) and verify.json (the
// targets trained and measured). analysis.ts writes them, plots.ts draws them, the server reads them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '../util/atomic.ts';
import type { ChinchillaParams, ComputeLawParams } from './fit.ts';
import type { Shape } from './shapes.ts';
import type { RunRecord } from './sweep.ts';

/** Which parameter count is N: all parameters (Hoffmann et al.) or non-embedding (Kaplan et al.). */
export type ParamKind = 'total' | 'nonEmbedding';

export interface FitReport {
  format: 'genlab-scaling-fit';
  createdAt: string;
  paramKind: ParamKind;
  runs: number;
  chinchilla: ChinchillaParams & {
    /** 95% bootstrap intervals (2.5th and 97.5th percentiles over resampled runs). */
    ci: Record<keyof ChinchillaParams, [number, number]>;
    rmseLog: number;
    huberObjective: number;
    starts: number;
  };
  /** Every bootstrap refit, for prediction intervals. */
  bootstrap: ChinchillaParams[];
  computeLaw: ComputeLawParams & { frontier: string[]; rmseLog: number } | null;
  /** Median of C / (N·D) over the runs: the k in C = k·N·D (6 plus attention and head terms). */
  flopsPerParamToken: number;
  sweep: { totalFlops: number; largestRunFlops: number };
  computeOptimal: { flops: number; n: number; d: number; loss: number }[];
}

export const FIT_FILE = 'fit.json';
export const VERIFY_FILE = 'verify.json';
export const PREDICTIONS_FILE = 'predictions.json';

export function readFit(dir: string): FitReport {
  const file = path.join(dir, FIT_FILE);
  if (!fs.existsSync(file)) throw new Error(`${dir} has no ${FIT_FILE}; run: genlab scaling fit ${dir}`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as FitReport;
}

export interface Prediction {
  id: string;
  shape: Shape;
  steps: number;
  tokens: number;
  n: number;
  params: { total: number; nonEmbedding: number };
  flops: number;
  loss: number;
  /** 95% bootstrap interval of the prediction. */
  interval: [number, number];
  /** The L(C) law's prediction at the same compute (a compute-optimal model, not necessarily this one). */
  lossFromCompute: number | null;
  ratioToLargestRun: number;
  ratioToSweep: number;
}

export interface Verification {
  prediction: Prediction;
  run: RunRecord;
  /** (predicted − measured) / measured. */
  relativeError: number;
  insideInterval: boolean;
  fitParamKind: ParamKind;
}

export function readVerifications(dir: string): Verification[] {
  const file = path.join(dir, VERIFY_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { verifications: Verification[] }).verifications : [];
}

export function readPredictions(dir: string): Prediction[] {
  const file = path.join(dir, PREDICTIONS_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { predictions: Prediction[] }).predictions : [];
}

export async function recordPrediction(dir: string, p: Prediction): Promise<void> {
  const all = readPredictions(dir).filter((x) => x.id !== p.id);
  all.push(p);
  await writeJsonAtomic(path.join(dir, PREDICTIONS_FILE), { predictions: all });
}
