// Evidence that preference alignment works on a real model (docs/alignment.md): choose a
// measurable property of completions (default: mentions America / Americans), sample completions
// of State of the Union sentence openings from the model itself, pair those with the property
// against those without, run DPO with LoRA, and print the property's rate in fresh samples of
// held-out openings before and after, with the KL divergence from the reference on those samples.
// With --reward it also trains a reward model on the same pairs and measures best-of-n sampling
// of the unchanged model.
//
//   node --import tsx scripts/align-demo.ts --model models/app [--pattern '\bAmerican?s?\b']
//        [--steps 150] [--lr 1e-3] [--beta 0.1] [--reward] [--out runs/align-demo]

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runPropertyExperiment } from '../src/align/experiment.ts';
import type { LoopStep } from '../src/align/pair-loop.ts';
import { init } from '../src/backend/registry.ts';
import { Rng } from '../src/backend/rng.ts';
import { sotuDocuments } from '../src/data/corpus.ts';
import { loadModel } from '../src/io/model-folder.ts';
import { saveAdapter } from '../src/io/peft.ts';
import { writeChart } from '../src/util/charts.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/app' },
    pattern: { type: 'string', default: '\\bAmerican?s?\\b' },
    prompts: { type: 'string', default: '48' },
    'eval-prompts': { type: 'string', default: '24' },
    samples: { type: 'string', default: '16' },
    'pairs-per-prompt': { type: 'string', default: '8' },
    'eval-samples': { type: 'string', default: '16' },
    'max-tokens': { type: 'string', default: '24' },
    temperature: { type: 'string', default: '1' },
    steps: { type: 'string', default: '150' },
    lr: { type: 'string', default: '1e-3' },
    beta: { type: 'string', default: '0.1' },
    'sft-weight': { type: 'string', default: '0' },
    'lora-r': { type: 'string', default: '8' },
    reward: { type: 'boolean', default: false },
    'best-of': { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    out: { type: 'string', default: 'runs/align-demo' },
  },
});

const num = (k: keyof typeof a): number => {
  const v = Number(a[k]);
  if (!Number.isFinite(v)) throw new Error(`--${k} must be a number, got ${String(a[k])}`);
  return v;
};

/** Sentence openings (first five words) of SOTU sentences, seeded; the later speeches first-come. */
async function openings(count: number, seed: number): Promise<string[]> {
  const all: string[] = [];
  for await (const d of sotuDocuments()) {
    for (const s of d.text.split(/(?<=[.!?])\s+/)) {
      const words = s.trim().split(/\s+/);
      if (words.length >= 10 && /^[A-Z]/.test(words[0]!)) all.push(words.slice(0, 5).join(' '));
    }
  }
  const rng = new Rng(seed);
  const picked = new Set<string>();
  while (picked.size < count && picked.size < all.length) picked.add(all[Math.floor(rng.uniform() * all.length)]!);
  return [...picked];
}

await init({ threads: num('threads') });
const lm = await loadModel(a.model!);
const pattern = new RegExp(a.pattern!);
const nTrain = num('prompts');
const nEval = num('eval-prompts');
const prompts = await openings(nTrain + nEval, num('seed'));
const t0 = performance.now();
const curve: LoopStep[] = [];
const say = (s: string): void => console.log(s);
say(`model ${a.model}; property /${a.pattern}/; ${nTrain} training and ${nEval} held-out SOTU openings`);
const r = await runPropertyExperiment({
  lm,
  property: (text) => pattern.test(text),
  trainPrompts: prompts.slice(0, nTrain),
  evalPrompts: prompts.slice(nTrain),
  samplesPerPrompt: num('samples'),
  pairsPerPrompt: num('pairs-per-prompt'),
  evalSamplesPerPrompt: num('eval-samples'),
  sampling: { maxTokens: num('max-tokens'), temperature: num('temperature'), seed: num('seed') },
  lora: { r: num('lora-r'), alpha: 2 * num('lora-r'), dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'], rsLora: false },
  dpo: { beta: num('beta'), lr: num('lr'), steps: num('steps'), batchSize: 8, sftWeight: num('sft-weight') },
  ...(a.reward ? { reward: { steps: num('steps'), lr: 3e-4, bestOf: num('best-of'), batchSize: 8 } } : {}),
  seed: num('seed'),
  logFile: path.join(a.out!, 'align-log.jsonl'),
  say,
  onStep: (m, phase) => {
    if (phase === 'dpo') curve.push(m);
    if (m.step % 25 === 0) say(`  ${phase} step ${m.step}: loss ${m.loss.toFixed(4)}${phase === 'dpo' ? `, margin ${Number(m['rewards/margins']).toFixed(3)}, accuracy ${Number(m['rewards/accuracies']).toFixed(2)}` : `, accuracy ${Number(m['accuracy']).toFixed(2)}`}`);
  },
  onEvent: (e) => say(`  step ${e.step}: ${e.message}`),
});
const seconds = (performance.now() - t0) / 1000;

await mkdir(a.out!, { recursive: true });
if (r.adapter) await saveAdapter(a.out!, r.adapter, { baseModel: path.resolve(a.model!) });
const summary = {
  model: a.model,
  property: a.pattern,
  settings: Object.fromEntries(Object.entries(a).filter(([k]) => k !== 'out')),
  pairs: r.pairs,
  before: r.before,
  after: r.after,
  kl: r.kl,
  bestOf: r.bestOf ?? null,
  lastStep: r.dpo.last,
  events: r.dpo.events,
  seconds,
  examples: { before: r.examples.before.map((s) => s.prompt + s.text), after: r.examples.after.map((s) => s.prompt + s.text) },
};
await writeFile(path.join(a.out!, 'result.json'), JSON.stringify(summary, null, 2) + '\n');
await writeChart(path.join(a.out!, 'dpo-curve'), {
  title: { text: `DPO on ${path.basename(a.model!)}: preference for /${a.pattern}/`, left: 'center', top: 6, textStyle: { fontSize: 15 } },
  legend: { top: 38 },
  grid: { top: 84, left: 56, right: 64, bottom: 44 },
  xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 26 },
  yAxis: [
    { type: 'value', name: 'loss' },
    { type: 'value', name: 'reward margin', splitLine: { show: false } },
  ],
  series: [
    { type: 'line', name: 'DPO loss', showSymbol: false, data: curve.map((m) => [m.step, m.loss]) },
    { type: 'line', name: 'reward margin', yAxisIndex: 1, showSymbol: false, data: curve.map((m) => [m.step, Number(m['rewards/margins'])]) },
  ],
}, { width: 800, height: 420, title: 'DPO training curve' });

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
say('');
say('| | samples | rate of the property |');
say('|---|---:|---:|');
say(`| base model | ${r.before.samples} | ${pct(r.before.rate)} |`);
say(`| after DPO (LoRA r=${num('lora-r')}, β=${num('beta')}, ${num('steps')} steps) | ${r.after.samples} | ${pct(r.after.rate)} |`);
if (r.bestOf) say(`| base + best-of-${r.bestOf.n} by reward model (held-out pair accuracy ${pct(r.bestOf.rewardAccuracy)}) | ${r.before.samples} | ${pct(r.bestOf.rate)} |`);
say('');
say(`KL(policy ‖ reference) on the after-DPO samples: ${r.kl.perSequence.toFixed(3)} nats per completion, ${r.kl.perToken.toFixed(4)} per token`);
say(`${r.pairs} preference pairs; ${seconds.toFixed(0)} s; results in ${a.out}/ (result.json, align-log.jsonl, dpo-curve.png, adapter)`);
