// Validation curves of finished training runs side by side, and each model's loss on the whole
// validation split of its corpus (not the 8 batches the training loop checks). Used for the
// fp32-vs-bf16 figure of the default preset:
//
//   node --import tsx bench/compare-runs.ts --out docs/precision-base models/base-fp32 models/base-bf16
//
// Writes OUT.{png,svg,html} and OUT.json.

import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { writeChart } from '../src/util/charts.ts';
import { scoreRun, type ScoredRun } from './score-run.ts';

const { values: args, positionals: dirs } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' }, title: { type: 'string' } } });
if (!args.out || dirs.length === 0) throw new Error('usage: bench/compare-runs.ts --out BASE [--title T] MODEL_DIR...');

const rows: ScoredRun[] = [];
for (const dir of dirs) {
  const r = await scoreRun(dir);
  if (!r) throw new Error(`${dir} has no run.json: it is not a finished genlab train run`);
  rows.push(r);
  console.log(`${dir}: ${r.steps} steps, ${r.seconds.toFixed(0)} s, validation loss ${r.valLoss.toFixed(4)} (whole split)`);
}
for (const r of rows.slice(1)) {
  console.log(`${r.dir} vs ${rows[0]!.dir}: ${(((r.valLoss - rows[0]!.valLoss) / rows[0]!.valLoss) * 100).toFixed(2)}%`);
}
await writeJsonAtomic(`${args.out}.json`, rows);
const lowest = Math.min(...rows.flatMap((r) => r.curve.map((e) => e.valLoss)));
await writeChart(args.out, {
  title: { text: args.title ?? 'Validation loss', left: 'center' },
  legend: { top: 32 },
  grid: { top: 70, left: 60, right: 30, bottom: 50 },
  xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 28 },
  yAxis: { type: 'value', name: 'validation loss (nats/token)', nameLocation: 'middle', nameGap: 40, min: Math.floor(lowest * 10) / 10, max: Math.ceil((lowest + 1.5) * 10) / 10 },
  series: rows.map((r) => ({ type: 'line', name: `${path.basename(r.dir)}: ${r.valLoss.toFixed(3)}`, showSymbol: false, data: r.curve.map((e) => [e.step, e.valLoss]) })),
});
