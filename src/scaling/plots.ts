// The scaling chart: validation loss against training compute, one line per model size, with
// the fitted L(C) frontier, the compute-optimal frontier implied by L(N, D), every predicted
// target with its 95% interval, and the measured loss of each verified target. Written as
// DIR/scaling.{svg,png,html} through util/charts.ts.

import * as path from 'node:path';
import { writeChart, type ChartOptions } from '../util/charts.ts';
import { computeOptimal, predictFromCompute } from './fit.ts';
import { shapeName } from './shapes.ts';
import { readPredictions, type FitReport, type Prediction, type Verification } from './results.ts';
import type { RunRecord, SweepState } from './sweep.ts';

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

export function scalingChartOptions(runs: readonly RunRecord[], fit: FitReport | null, predictions: readonly Prediction[], verifications: readonly Verification[]): ChartOptions {
  const byShape = new Map<string, RunRecord[]>();
  for (const r of [...runs].sort((a, b) => a.params.total - b.params.total)) {
    const k = shapeName(r.shape);
    byShape.set(k, [...(byShape.get(k) ?? []), r]);
  }
  const series: NonNullable<ChartOptions['series']> & unknown[] = [];
  for (const [name, rs] of byShape) {
    rs.sort((a, b) => a.flops - b.flops);
    series.push({ name: `${name} (N=${(rs[0]!.params.total / 1e3).toFixed(0)}k)`, type: 'line', symbolSize: 7, data: rs.map((r) => [r.flops, round(r.valLoss)]) });
  }
  const allC = [...runs.map((r) => r.flops), ...predictions.map((p) => p.flops), ...verifications.map((v) => v.run.flops)];
  const lo = Math.min(...allC) / 1.5;
  const hi = Math.max(...allC) * 1.5;
  const grid = Array.from({ length: 60 }, (_, i) => lo * Math.pow(hi / lo, i / 59));
  if (fit?.computeLaw) {
    const law = fit.computeLaw;
    series.push({ name: `L(C) = ${law.a.toPrecision(3)}·C^${law.b.toFixed(3)} + ${law.c.toFixed(2)}`, type: 'line', showSymbol: false, lineStyle: { width: 3, color: '#222' }, itemStyle: { color: '#222' }, data: grid.map((c) => [c, round(predictFromCompute(law, c))]) });
  }
  if (fit && fit.chinchilla.alpha > 0 && fit.chinchilla.beta > 0) {
    series.push({ name: 'compute-optimal L(N, D)', type: 'line', showSymbol: false, lineStyle: { type: 'dashed', width: 2, color: '#888' }, itemStyle: { color: '#888' }, data: grid.map((c) => [c, round(computeOptimal(fit.chinchilla, c, fit.flopsPerParamToken).loss)]) });
  }
  for (const p of predictions) {
    series.push({ name: `predicted ${p.id} (95%)`, type: 'line', symbol: 'diamond', symbolSize: 12, itemStyle: { color: '#d62728' }, lineStyle: { color: '#d62728', width: 2 }, data: [[p.flops, round(p.interval[0])], [p.flops, round(p.loss)], [p.flops, round(p.interval[1])]] });
  }
  if (verifications.length > 0) {
    series.push({ name: 'measured', type: 'scatter', symbol: 'circle', symbolSize: 13, itemStyle: { color: '#2ca02c', borderColor: '#000', borderWidth: 1 }, data: verifications.map((v) => [v.run.flops, round(v.run.valLoss)]) });
  }
  return {
    title: { text: 'Validation loss vs training compute', subtext: fit ? `L(N,D) fit on ${fit.runs} runs (N = ${fit.paramKind === 'total' ? 'all' : 'non-embedding'} parameters)` : 'no fit yet', left: 'center' },
    legend: { type: 'scroll', orient: 'vertical', left: 880, top: 60, textStyle: { fontSize: 11 } },
    grid: { left: 80, right: 340, top: 70, bottom: 55 },
    xAxis: { type: 'log', name: 'training FLOPs (counted)', nameLocation: 'middle', nameGap: 32, min: lo, max: hi, axisLabel: { formatter: (v: number) => v.toExponential(0) } },
    yAxis: { type: 'value', name: 'validation loss (nats/token)', nameLocation: 'middle', nameGap: 50, scale: true },
    series,
  };
}

export async function writeScalingChart(dir: string, _state: SweepState, runs: readonly RunRecord[], fit: FitReport | null, verifications: readonly Verification[]): Promise<{ svg: string; png: string; html: string }> {
  const predictions = readPredictions(dir);
  return writeChart(path.join(dir, 'scaling'), scalingChartOptions(runs, fit, predictions, verifications), { width: 1200, height: 600, title: 'genlab scaling: loss vs compute' });
}
