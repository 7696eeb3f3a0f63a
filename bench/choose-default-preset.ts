// Which model recipe gives the best held-out loss after ~15 minutes of `genlab train` on this
// machine? The default preset must be that recipe (issue: "chosen to give the best validation loss
// in ~15 minutes on 2 cores"). The candidates are GPT-2 shapes, the Llama recipe (RMSNorm, RoPE,
// SwiGLU, no biases; with and without grouped-query attention) at the default's size, and both
// recipes on a corpus mix (State of the Union + the Brown Corpus). Each candidate's throughput is
// measured first; its step count is then the budget × that throughput, and every candidate trains
// by steps, not by the clock, so the result does not depend on what else the machine was doing
// while the runs went on (only the wall time does). Same tokenizer size, batch 8 × 256 tokens (the
// whole context), schedule and seed for all.
//
// Every finished run is scored in bits per byte, which does not depend on the tokenizer or the
// corpus: on the State of the Union speeches that every run held out (a speech one run held out
// but another trained on is left out), and on Moby-Dick, a whole book from another domain that no
// candidate trains on. The loss on each run's own held-out split (nats/token) is kept too, but it
// compares runs only on the same corpus.
//
//   node --import tsx bench/choose-default-preset.ts [--minutes 15] [--threads 2] [--only NAME,...]
//        [--plan-only] [--out runs/presets]
//
// Results: OUT/plan.json (throughputs and steps), OUT/NAME/ (a model folder per candidate),
// OUT/results.json, OUT/candidates.{png,svg,html} (validation loss against training time, per
// candidate) and OUT/bits-per-byte.{png,svg,html} (both texts, per candidate).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { heldOutSet } from '../src/account/held-out.ts';
import { createDevice, setDefaultDevice } from '../src/backend/registry.ts';
import { benchTrainStep, type BenchConfig } from '../src/bench/train.ts';
import { mobyDickSource, sotuSource, type Document } from '../src/data/corpus.ts';
import { llamaConfigToJson } from '../src/io/llama-config.ts';
import { presets, swigluWidth } from '../src/train/presets.ts';
import { trainCommand } from '../src/train/run.ts';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { writeChart } from '../src/util/charts.ts';
import { scoreRun, type ScoredRun, type ScoreText } from './score-run.ts';

interface Candidate {
  name: string;
  architecture: 'gpt2' | 'llama';
  nLayer: number;
  nEmbd: number;
  nHead: number;
  /** Llama: key/value heads (fewer than nHead: grouped-query attention). */
  kvHeads?: number;
  /** Peak learning rate: smaller for wider models (the presets' rule, ~ width^-0.5). */
  lr: number;
  /** Training corpus (genlab train --data). */
  data: string[];
}

const SOTU = ['sotu'];
const MIX = ['sotu', 'brown'];
const candidates: Candidate[] = [
  { name: 'L4-C96', architecture: 'gpt2', nLayer: 4, nEmbd: 96, nHead: 4, lr: 2.4e-3, data: SOTU },
  { name: 'L4-C128', architecture: 'gpt2', nLayer: 4, nEmbd: 128, nHead: 4, lr: 2e-3, data: SOTU },
  { name: 'L4-C192', architecture: 'gpt2', nLayer: 4, nEmbd: 192, nHead: 6, lr: 1.6e-3, data: SOTU },
  { name: 'L6-C192', architecture: 'gpt2', nLayer: 6, nEmbd: 192, nHead: 6, lr: 1.6e-3, data: SOTU },
  { name: 'L6-C256', architecture: 'gpt2', nLayer: 6, nEmbd: 256, nHead: 8, lr: 1.4e-3, data: SOTU },
  // The Llama recipe at the default's size (presets base-llama), then with 2 key/value heads.
  { name: 'llama-L4-C128', architecture: 'llama', nLayer: 4, nEmbd: 128, nHead: 4, kvHeads: 4, lr: 2e-3, data: SOTU },
  { name: 'llama-L4-C128-kv2', architecture: 'llama', nLayer: 4, nEmbd: 128, nHead: 4, kvHeads: 2, lr: 2e-3, data: SOTU },
  // The corpus mix: does more varied prose help on Moby-Dick without costing much on the speeches?
  { name: 'L4-C128-mix', architecture: 'gpt2', nLayer: 4, nEmbd: 128, nHead: 4, lr: 2e-3, data: MIX },
  { name: 'llama-L4-C128-mix', architecture: 'llama', nLayer: 4, nEmbd: 128, nHead: 4, kvHeads: 4, lr: 2e-3, data: MIX },
];
const VOCAB = 2048;
// Whole-context sequences, so every position of the model is trained.
const BATCH = 8;
const SEQ = 256;
const CONTEXT = 256;
const EVAL_EVERY = 100;
const SEED = 1337;
const VAL_FRACTION = 0.05;
/** The out-of-domain book: never trained on, so its bits per byte measure generalisation. */
const BOOK = 'moby-dick';

for (const c of candidates) {
  if (c.data.includes(BOOK)) throw new Error(`candidate ${c.name} trains on ${BOOK}, the book every candidate is scored on; keep it out of the training mix`);
}

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
const only = args.only ? args.only.split(',') : null;
for (const name of only ?? []) if (!candidates.some((c) => c.name === name)) throw new Error(`--only ${name}: no such candidate; the candidates are ${candidates.map((c) => c.name).join(', ')}`);
await mkdir(out, { recursive: true });
const planFile = path.join(out, 'plan.json');

interface PlanRow extends Candidate {
  tokensPerSecond: number;
  steps: number;
}

function benchConfig(c: Candidate): BenchConfig {
  const llama = c.architecture === 'llama' ? { llama: { intermediateSize: swigluWidth(c.nEmbd), numKeyValueHeads: c.kvHeads ?? c.nHead, ropeTheta: 10000 } } : {};
  return { name: c.name, vocabSize: VOCAB, nPositions: CONTEXT, nEmbd: c.nEmbd, nLayer: c.nLayer, nHead: c.nHead, batch: BATCH, seqLen: SEQ, steps: 8, ...llama };
}

async function measure(cs: Candidate[]): Promise<{ name: string; tokensPerSecond: number; steps: number }[]> {
  const rows = [];
  for (const c of cs) {
    const dev = await createDevice({ threads });
    try {
      const { tokensPerSecond } = benchTrainStep(dev, benchConfig(c));
      // Validation (8 windows every 100 steps) and checkpoints cost a few percent.
      const steps = Math.max(10, Math.round((minutes * 60 * tokensPerSecond * 0.95) / (BATCH * SEQ) / 10) * 10);
      rows.push({ name: c.name, tokensPerSecond, steps });
      console.log(`${c.name}: ${tokensPerSecond.toFixed(0)} tok/s on ${threads} threads → ${steps} steps for ${minutes} min`);
    } finally {
      await dev.close();
    }
  }
  return rows;
}

// Throughputs are measured once per candidate and kept in plan.json (delete it to measure again);
// the candidate's definition always comes from this file.
let measured: { name: string; tokensPerSecond: number; steps: number }[] = [];
try {
  measured = JSON.parse(await readFile(planFile, 'utf8')) as typeof measured;
} catch {
  // first run
}
const missing = candidates.filter((c) => (!only || only.includes(c.name)) && !measured.some((m) => m.name === c.name));
if (missing.length > 0) {
  measured = [...measured, ...(await measure(missing))];
  await writeJsonAtomic(planFile, measured);
}
const plan: PlanRow[] = candidates.flatMap((c) => {
  const m = measured.find((r) => r.name === c.name);
  return m ? [{ ...c, tokensPerSecond: m.tokensPerSecond, steps: m.steps }] : [];
});
if (args['plan-only']) process.exit(0);

/** The candidate's model as a config.json `genlab train --model` reads: GPT-2's keys or LlamaForCausalLM's. */
function configJson(c: Candidate): Record<string, unknown> {
  if (c.architecture === 'gpt2') {
    return { model_type: 'gpt2', vocab_size: VOCAB, n_positions: CONTEXT, n_embd: c.nEmbd, n_layer: c.nLayer, n_head: c.nHead, n_inner: null, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0, initializer_range: 0.02, tie_word_embeddings: true, bos_token_id: VOCAB - 1, eos_token_id: VOCAB - 1 };
  }
  // The base-llama recipe with this candidate's shape.
  const recipe = presets['base-llama'].model;
  const config = { ...recipe, vocabSize: VOCAB, hiddenSize: c.nEmbd, numHiddenLayers: c.nLayer, numAttentionHeads: c.nHead, numKeyValueHeads: c.kvHeads ?? c.nHead, headDim: c.nEmbd / c.nHead, intermediateSize: swigluWidth(c.nEmbd), maxPositionEmbeddings: CONTEXT };
  return llamaConfigToJson(config, { bosTokenId: VOCAB - 1, eosTokenId: VOCAB - 1 });
}

for (const c of plan) {
  if (only && !only.includes(c.name)) continue;
  const dir = path.join(out, c.name);
  try {
    await readFile(path.join(dir, 'run.json'));
    console.log(`${c.name}: done already`);
    continue;
  } catch {
    // not trained yet
  }
  const cfgFile = path.join(out, `${c.name}.config.json`);
  await writeFile(cfgFile, JSON.stringify(configJson(c)));
  setDefaultDevice(await createDevice({ threads }));
  console.log(`${c.name}: training ${c.steps} steps on ${c.data.join(' + ')}`);
  await trainCommand({ data: c.data, model: cfgFile, out: dir, steps: c.steps, batch: BATCH, seqLen: SEQ, lr: c.lr, vocabSize: VOCAB, evalEvery: EVAL_EVERY, checkpointEvery: 1000, seed: SEED, valFraction: VAL_FRACTION });
}

// The speeches held out by every finished run: whole documents no candidate trained on.
const finished: PlanRow[] = [];
let sotuHeldOut = null as Set<string> | null;
for (const c of plan) {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(await readFile(path.join(out, c.name, 'run.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    continue;
  }
  const sources = ((record['data'] as { sources: { name: string }[] }).sources ?? []).map((s) => s.name);
  if (sources.includes(BOOK)) throw new Error(`${path.join(out, c.name)} trained on ${BOOK}; delete it and train it again without`);
  const held = await heldOutSet(record, path.join(out, c.name));
  const ids = new Set([...held.ids].filter((id) => id.startsWith('sotu/')));
  const before: Set<string> | null = sotuHeldOut;
  sotuHeldOut = before === null ? ids : new Set([...before].filter((id) => ids.has(id)));
  finished.push(c);
}
if (finished.length === 0) process.exit(0);
if (sotuHeldOut === null || sotuHeldOut.size === 0) throw new Error('the finished runs have no State of the Union speech held out in common; they must share --seed and --val-fraction');
const sotuIds = sotuHeldOut;
async function* heldOutSpeeches(): AsyncGenerator<Document> {
  for await (const d of sotuSource().documents()) if (sotuIds.has(`sotu/${d.id}`)) yield d;
}
const texts: ScoreText[] = [
  { name: 'sotu-held-out', documents: heldOutSpeeches },
  { name: BOOK, documents: () => mobyDickSource().documents() },
];

// Summary over whatever has finished, every model scored on the same texts.
const results: (PlanRow & ScoredRun & { sotuBitsPerByte: number; bookBitsPerByte: number })[] = [];
for (const c of finished) {
  const scored = await scoreRun(path.join(out, c.name), threads, texts);
  if (scored) results.push({ ...c, ...scored, sotuBitsPerByte: scored.texts['sotu-held-out']!.bitsPerByte, bookBitsPerByte: scored.texts[BOOK]!.bitsPerByte });
}
const sotuText = results[0]!.texts['sotu-held-out']!;
console.log(`\nheld-out speeches common to every run: ${sotuIds.size} (${sotuText.bytes.toLocaleString()} bytes); ${BOOK}: ${results[0]!.texts[BOOK]!.bytes.toLocaleString()} bytes, trained on by none`);
console.log(`candidate           arch   data        params (non-emb)  steps      tokens  train s  val loss*  SOTU bits/byte  ${BOOK} bits/byte`);
for (const r of results) {
  console.log(
    `${r.name.padEnd(18)}  ${r.architecture.padEnd(5)}  ${r.data.join('+').padEnd(10)}  ${(r.nonEmbedding / 1e6).toFixed(2).padStart(15)}M  ${String(r.steps).padStart(5)}  ${r.tokens.toLocaleString().padStart(10)}  ${r.seconds.toFixed(0).padStart(7)}  ${r.valLoss.toFixed(4).padStart(9)}  ${r.sotuBitsPerByte.toFixed(4).padStart(14)}  ${r.bookBitsPerByte.toFixed(4).padStart(17)}`,
  );
}
console.log('* nats/token on the run\'s own held-out split and tokenizer: comparable only between runs on the same corpus');
const best = results.reduce((a, b) => (b.sotuBitsPerByte < a.sotuBitsPerByte ? b : a));
const bestBook = results.reduce((a, b) => (b.bookBitsPerByte < a.bookBitsPerByte ? b : a));
console.log(`best at ${minutes} min on the held-out speeches: ${best.name}; on ${BOOK}: ${bestBook.name}`);
await writeJsonAtomic(path.join(out, 'results.json'), {
  minutes,
  threads,
  batch: BATCH,
  seqLen: SEQ,
  vocabSize: VOCAB,
  seed: SEED,
  valFraction: VAL_FRACTION,
  texts: { 'sotu-held-out': { documents: sotuIds.size, ids: [...sotuIds].sort(), bytes: sotuText.bytes }, [BOOK]: { bytes: results[0]!.texts[BOOK]!.bytes, documents: results[0]!.texts[BOOK]!.documents } },
  results,
  best: best.name,
  bestOn: { 'sotu-held-out': best.name, [BOOK]: bestBook.name },
});
const lowest = Math.min(...results.flatMap((r) => r.curve.map((e) => e.valLoss)));
await writeChart(path.join(out, 'candidates'), {
  title: { text: `Default preset candidates: ${minutes}-minute budget, ${threads} threads`, left: 'center' },
  // Server-side rendering measures legend text narrower than it is drawn: wide gaps, wrapped rows.
  legend: { top: 32, left: 'center', width: '90%', itemGap: 28 },
  grid: { top: 90, left: 60, right: 30, bottom: 50 },
  xAxis: { type: 'value', name: 'training time (minutes)', nameLocation: 'middle', nameGap: 28 },
  yAxis: { type: 'value', name: "validation loss (8 batches of the run's split, nats/token)", nameLocation: 'middle', nameGap: 40, min: Math.floor(lowest * 10) / 10, max: Math.ceil((lowest + 1.5) * 10) / 10 },
  series: results.map((r) => ({ type: 'line', name: `${r.name} (${(r.nonEmbedding / 1e6).toFixed(2)}M)`, showSymbol: r.curve.length < 2, data: r.curve.map((e) => [e.minutes, e.valLoss]) })),
});
const bpb = results.flatMap((r) => [r.sotuBitsPerByte, r.bookBitsPerByte]);
await writeChart(
  path.join(out, 'bits-per-byte'),
  {
    title: { text: `Held-out bits per byte after ${minutes} minutes (lower is better)`, left: 'center' },
    legend: { top: 32, left: 'center', width: '90%', itemGap: 40 },
    grid: { top: 80, left: 60, right: 30, bottom: 110 },
    tooltip: {},
    xAxis: { type: 'category', data: results.map((r) => r.name), axisLabel: { rotate: 30 } },
    yAxis: { type: 'value', name: 'bits per byte', nameLocation: 'middle', nameGap: 40, min: Math.floor(Math.min(...bpb) * 5) / 5 - 0.2 },
    series: [
      { type: 'bar', name: `State of the Union, held out (${sotuIds.size} speeches)`, data: results.map((r) => Number(r.sotuBitsPerByte.toFixed(4))), label: { show: true, position: 'top', formatter: (p: { value: unknown }) => Number(p.value).toFixed(2) } },
      { type: 'bar', name: 'Moby-Dick (another domain, never trained on)', data: results.map((r) => Number(r.bookBitsPerByte.toFixed(4))), label: { show: true, position: 'top', formatter: (p: { value: unknown }) => Number(p.value).toFixed(2) } },
    ],
  },
  { width: 900, height: 520, title: 'Held-out bits per byte of the default-preset candidates' },
);
