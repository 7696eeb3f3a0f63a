// Validation curves of finished training runs side by side, and each model's loss on the whole
// validation split of its corpus (not the 8 batches the training loop checks). Used for the
// fp32-vs-bf16 figure of the default preset:
//
//   node --import tsx bench/compare-runs.ts --out docs/precision-base models/base-fp32 models/base-bf16
//
// Writes OUT.{png,svg,html} and OUT.json.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDevice, setDefaultDevice } from '../src/backend/registry.ts';
import { resolveSource } from '../src/data/corpus.ts';
import { BatchLoader } from '../src/data/loader.ts';
import { writeJsonAtomic } from '../src/io/atomic.ts';
import { loadModel } from '../src/io/model-folder.ts';
import { writeChart } from '../src/report/charts.ts';
import { prepareTrainingData } from '../src/train/run.ts';
import { evaluate } from '../src/train/trainer.ts';

const { values: args, positionals: dirs } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' }, title: { type: 'string' } } });
if (!args.out || dirs.length === 0) throw new Error('usage: bench/compare-runs.ts --out BASE [--title T] MODEL_DIR...');

interface RunRecord {
  hyperparameters: { seqLen: number; seed: number; valFraction: number };
  tokenizer: { vocabSize: number };
  data: { sources: { name?: string; path?: string }[] };
  training: { steps: number; trainSeconds: number };
  software?: { precision?: string };
}

const rows: { dir: string; steps: number; seconds: number; valLoss: number; curve: [number, number][] }[] = [];
for (const dir of dirs) {
  const run = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  const metrics = (await readFile(path.join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
  const curve = metrics.filter((m) => m['type'] === 'eval').map((m) => [Number(m['step']), Number(m['valLoss'])] as [number, number]);
  const dev = await createDevice({});
  setDefaultDevice(dev);
  const { model, tokenizer } = await loadModel(dir, { device: dev });
  // The run's own split: same corpus, tokenizer, seed and held-out fraction (the shards are cached).
  const { data } = await prepareTrainingData({
    sources: [resolveSource('sotu')],
    vocabSize: run.tokenizer.vocabSize,
    cacheDir: '.cache/genlab',
    seed: run.hyperparameters.seed,
    valFraction: run.hyperparameters.valFraction,
    quiet: true,
    tokenizer,
  });
  const val = new BatchLoader({ shards: data.valFiles, batchSize: 8, seqLen: run.hyperparameters.seqLen, mode: 'sequential', seed: run.hyperparameters.seed });
  const valLoss = evaluate(model, val, val.batchesPerEpoch);
  val.close();
  await dev.close();
  rows.push({ dir, steps: run.training.steps, seconds: run.training.trainSeconds, valLoss, curve });
  console.log(`${dir}: ${run.training.steps} steps, ${run.training.trainSeconds.toFixed(0)} s, validation loss ${valLoss.toFixed(4)} (whole split)`);
}
for (const r of rows.slice(1)) {
  console.log(`${r.dir} vs ${rows[0]!.dir}: ${(((r.valLoss - rows[0]!.valLoss) / rows[0]!.valLoss) * 100).toFixed(2)}%`);
}
await writeJsonAtomic(`${args.out}.json`, rows);
const lowest = Math.min(...rows.flatMap((r) => r.curve.map(([, l]) => l)));
await writeChart(args.out, {
  title: { text: args.title ?? 'Validation loss', left: 'center' },
  legend: { top: 32 },
  grid: { top: 70, left: 60, right: 30, bottom: 50 },
  xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 28 },
  yAxis: { type: 'value', name: 'validation loss (nats/token)', nameLocation: 'middle', nameGap: 40, min: Math.floor(lowest * 10) / 10, max: Math.ceil((lowest + 1.5) * 10) / 10 },
  series: rows.map((r) => ({ type: 'line', name: `${path.basename(r.dir)}: ${r.valLoss.toFixed(3)}`, showSymbol: false, data: r.curve })),
});
