// Which shape gives the best validation loss after ~15 minutes of `genlab train` on this machine?
// The default preset must be that shape (issue: "chosen to give the best validation loss in ~15
// minutes on 2 cores"). Each candidate's throughput is measured first; its step count is then the
// budget × that throughput, and every candidate trains by steps, not by the clock, so the result
// does not depend on what else the machine was doing while the runs went on (only the wall time
// does). Same corpus, tokenizer, batch 8 × 256 tokens (the whole context), schedule and seed for all.
//
//   node --import tsx bench/choose-default-preset.ts [--minutes 15] [--threads 2] [--only NAME,...]
//        [--plan-only] [--out runs/presets]
//
// Results: OUT/plan.json (throughputs and steps), OUT/NAME/ (a model folder per candidate),
// OUT/results.json and OUT/candidates.{png,svg,html} (validation loss against tokens, per candidate).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDevice, setDefaultDevice } from '../src/backend/registry.ts';
import { benchTrainStep, type BenchConfig } from '../src/bench/train.ts';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { writeChart } from '../src/util/charts.ts';
import { trainCommand } from '../src/train/run.ts';
import { scoreRun, type ScoredRun } from './score-run.ts';

interface Candidate {
  name: string;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  /** Peak learning rate: smaller for wider models (the presets' rule, ~ width^-0.5). */
  lr: number;
}

const candidates: Candidate[] = [
  { name: 'L4-C96', nLayer: 4, nEmbd: 96, nHead: 4, lr: 2.4e-3 },
  { name: 'L4-C128', nLayer: 4, nEmbd: 128, nHead: 4, lr: 2e-3 },
  { name: 'L4-C192', nLayer: 4, nEmbd: 192, nHead: 6, lr: 1.6e-3 },
  { name: 'L6-C192', nLayer: 6, nEmbd: 192, nHead: 6, lr: 1.6e-3 },
  { name: 'L6-C256', nLayer: 6, nEmbd: 256, nHead: 8, lr: 1.4e-3 },
];
const VOCAB = 2048;
// Whole-context sequences, so every position of the model is trained.
const BATCH = 8;
const SEQ = 256;
const CONTEXT = 256;
const EVAL_EVERY = 100;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '15' },
    threads: { type: 'string', default: '2' },
    only: { type: 'string' },
    'plan-only': { type: 'boolean', default: false },
    out: { type: 'string', default: 'runs/presets' },
  },
});
const out = args.out!;
const minutes = Number(args.minutes);
const threads = Number(args.threads);
await mkdir(out, { recursive: true });
const planFile = path.join(out, 'plan.json');

interface PlanRow extends Candidate {
  tokensPerSecond: number;
  steps: number;
}

async function measure(cs: Candidate[]): Promise<PlanRow[]> {
  const rows: PlanRow[] = [];
  for (const c of cs) {
    const dev = await createDevice({ threads });
    try {
      const bc: BenchConfig = { name: c.name, vocabSize: VOCAB, nPositions: CONTEXT, nEmbd: c.nEmbd, nLayer: c.nLayer, nHead: c.nHead, batch: BATCH, seqLen: SEQ, steps: 8 };
      const { tokensPerSecond } = benchTrainStep(dev, bc);
      // Validation (8 windows every 100 steps) and checkpoints cost a few percent.
      const steps = Math.round((minutes * 60 * tokensPerSecond * 0.95) / (BATCH * SEQ) / 10) * 10;
      rows.push({ ...c, tokensPerSecond, steps });
      console.log(`${c.name}: ${tokensPerSecond.toFixed(0)} tok/s on ${threads} threads → ${steps} steps for ${minutes} min`);
    } finally {
      await dev.close();
    }
  }
  return rows;
}

// Throughputs are measured once per candidate and kept in plan.json (delete it to measure again).
let measured: PlanRow[] = [];
try {
  measured = JSON.parse(await readFile(planFile, 'utf8')) as PlanRow[];
} catch {
  // first run
}
const missing = candidates.filter((c) => !measured.some((m) => m.name === c.name));
if (missing.length > 0) {
  measured = [...measured, ...(await measure(missing))];
  await writeJsonAtomic(planFile, measured);
}
const plan = candidates.map((c) => measured.find((m) => m.name === c.name)!);
if (args['plan-only']) process.exit(0);

for (const c of plan) {
  if (args.only && !args.only.split(',').includes(c.name)) continue;
  const dir = path.join(out, c.name);
  try {
    await readFile(path.join(dir, 'run.json'));
    console.log(`${c.name}: done already`);
    continue;
  } catch {
    // not trained yet
  }
  const cfgFile = path.join(out, `${c.name}.config.json`);
  await writeFile(cfgFile, JSON.stringify({ model_type: 'gpt2', vocab_size: VOCAB, n_positions: CONTEXT, n_embd: c.nEmbd, n_layer: c.nLayer, n_head: c.nHead, n_inner: null, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0, initializer_range: 0.02, tie_word_embeddings: true, bos_token_id: VOCAB - 1, eos_token_id: VOCAB - 1 }));
  setDefaultDevice(await createDevice({ threads }));
  console.log(`${c.name}: training ${c.steps} steps`);
  await trainCommand({ data: ['sotu'], model: cfgFile, out: dir, steps: c.steps, batch: BATCH, seqLen: SEQ, lr: c.lr, vocabSize: VOCAB, evalEvery: EVAL_EVERY, checkpointEvery: 1000, seed: 1337 });
}

// Summary over whatever has finished, every model scored on the whole validation split.
const results: (PlanRow & ScoredRun)[] = [];
for (const c of plan) {
  const scored = await scoreRun(path.join(out, c.name), threads);
  if (scored) results.push({ ...c, ...scored });
}
if (results.length === 0) process.exit(0);
console.log(`\ncandidate  params (non-emb)  steps      tokens  train s  val loss (whole held-out split)`);
for (const r of results) console.log(`${r.name.padEnd(9)}  ${(r.nonEmbedding / 1e6).toFixed(2).padStart(15)}M  ${String(r.steps).padStart(5)}  ${r.tokens.toLocaleString().padStart(10)}  ${r.seconds.toFixed(0).padStart(7)}  ${r.valLoss.toFixed(4)}`);
const best = results.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
console.log(`best at ${minutes} min: ${best.name}`);
await writeJsonAtomic(path.join(out, 'results.json'), { minutes, threads, batch: BATCH, seqLen: SEQ, vocabSize: VOCAB, results, best: best.name });
const lowest = Math.min(...results.flatMap((r) => r.curve.map((e) => e.valLoss)));
await writeChart(path.join(out, 'candidates'), {
  title: { text: `Default preset candidates: ${minutes}-minute budget, ${threads} threads`, left: 'center' },
  legend: { top: 32 },
  grid: { top: 70, left: 60, right: 30, bottom: 50 },
  xAxis: { type: 'value', name: 'training time (minutes)', nameLocation: 'middle', nameGap: 28 },
  yAxis: { type: 'value', name: 'validation loss (8 batches, nats/token)', nameLocation: 'middle', nameGap: 40, min: Math.floor(lowest * 10) / 10, max: Math.ceil((lowest + 1.5) * 10) / 10 },
  series: results.map((r) => ({ type: 'line', name: `${r.name} (${(r.nonEmbedding / 1e6).toFixed(2)}M)`, showSymbol: false, data: r.curve.map((e) => [e.minutes, e.valLoss]) })),
});
