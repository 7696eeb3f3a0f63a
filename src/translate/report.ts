// Training curves of a translation run, drawn from its metrics.jsonl: training loss (smoothed),
// validation loss, and the greedy BLEU on held-out pairs measured at each validation.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeChart, type ChartOptions } from '../util/charts.ts';

interface StepLine {
  type: 'step';
  step: number;
  loss: number;
}

interface EvalLine {
  type: 'eval';
  step: number;
  validLoss: number;
  bleu: number;
  chrf: number;
}

/** Exponential moving average (the raw per-batch loss is noisy: batches differ in length). */
function smooth(values: readonly number[], beta = 0.95): number[] {
  let avg = NaN;
  return values.map((v) => (avg = Number.isFinite(avg) ? beta * avg + (1 - beta) * v : v));
}

export function curvesChart(lines: ReadonlyArray<StepLine | EvalLine>, title: string): ChartOptions {
  const steps = lines.filter((l): l is StepLine => l.type === 'step');
  const evals = lines.filter((l): l is EvalLine => l.type === 'eval');
  const trainSmooth = smooth(steps.map((s) => s.loss));
  return {
    title: { text: title, left: 'center', textStyle: { fontSize: 15 } },
    legend: { bottom: 0, itemGap: 28 },
    grid: { left: 60, right: 60, top: 50, bottom: 76 },
    xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 28, min: 0 },
    yAxis: [
      { type: 'value', name: 'loss (nats/token)', min: 0 },
      { type: 'value', name: 'greedy BLEU', min: 0, splitLine: { show: false } },
    ],
    series: [
      { name: 'training loss (smoothed)', type: 'line', showSymbol: false, data: steps.map((s, i) => [s.step, trainSmooth[i]!]) },
      { name: 'validation loss', type: 'line', data: evals.map((e) => [e.step, e.validLoss]) },
      { name: 'greedy BLEU (validation)', type: 'line', yAxisIndex: 1, lineStyle: { type: 'dashed' }, data: evals.map((e) => [e.step, e.bleu]) },
    ],
  };
}

/** Writes OUT/training-curves.{svg,png,html} from OUT/metrics.jsonl. */
export async function writeTrainingCurves(outDir: string, title: string): Promise<{ svg: string; png: string; html: string }> {
  const text = await readFile(path.join(outDir, 'metrics.jsonl'), 'utf8');
  const lines = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as StepLine | EvalLine);
  return writeChart(path.join(outDir, 'training-curves'), curvesChart(lines, title), { width: 900, height: 480, title });
}
