// The test-sized predict-then-verify experiment: a 7-run sweep on Moby-Dick (vocabulary 320,
// context 32), the L(N, D) fit, and a target trained with at least 100× the compute of the
// largest sweep run; it prints the prediction error. Also checks that an interrupted sweep
// resumes to the same numbers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { init } from '../backend/registry.ts';
import { candidateShapes, fitSweep, predictTarget, verifyTarget } from './analysis.ts';
import { readFit } from './results.ts';
import { planGrid, planSweep } from './plan.ts';
import { configFor, flopsPerToken, LADDER, parseShape, shapeName } from './shapes.ts';
import { readRuns, runSweep, type SweepSpec, type SweepState } from './sweep.ts';

let dir: string;
before(async () => {
  await init({ threads: 2 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-sweep-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

export const TEST_SWEEP: Partial<SweepSpec> = {
  data: ['moby-dick'], vocabSize: 320, seqLen: 32, batch: 16, budget: 1.2e10, levels: 3, levelFactor: 2.5,
  minTokensPerParam: 2, maxTokensPerParam: 200, minSteps: 30, evalBatches: 32,
};

test('plans fit the budget, span several sizes per level and reject budgets that buy too little', () => {
  const plan = planSweep({ budget: 1e12, vocabSize: 512, seqLen: 64, batch: 8 });
  const total = plan.reduce((a, p) => a + p.flops, 0);
  assert.ok(total <= 1e12 && total > 0.8e12, `total ${total}`);
  assert.ok(new Set(plan.map((p) => p.level)).size >= 3);
  assert.ok(plan.filter((p) => p.level === 0).length >= 3);
  for (const p of plan) assert.ok(p.tokens / p.params.total >= 4 && p.tokens / p.params.total <= 100);
  assert.throws(() => planSweep({ budget: 1e6, vocabSize: 512, seqLen: 64, batch: 8 }), /buys only 0 runs/);
  assert.deepEqual(parseShape('4x128'), { nLayer: 4, nEmbd: 128, nHead: 8 });
  assert.equal(shapeName(parseShape('L2-C48-H3')), 'L2-C48');
  assert.throws(() => parseShape('big'), /not of the form L4-C128/);
  assert.ok(LADDER.every((s) => s.nEmbd % s.nHead === 0));
});

test('a token grid trains every shape for every token count, under the per-run cap', () => {
  const shapes = ['L1-C32', 'L2-C48', 'L2-C64'].map(parseShape);
  const grid = planGrid({ shapes, tokens: [2.6e6, 1.3e6], vocabSize: 512, seqLen: 64, batch: 8 });
  assert.equal(grid.length, 6);
  for (const r of grid) {
    assert.equal(r.tokens % 512, 0);
    assert.ok(r.tokens <= (r.level === 0 ? 1.3e6 : 2.6e6) && r.tokens > (r.level === 0 ? 1.3e6 : 2.6e6) - 512, `${r.id}`);
    assert.equal(r.flops, flopsPerToken(configFor(r.shape, 512, 64), 64) * r.tokens);
  }
  const capped = planGrid({ shapes: [...shapes, parseShape('L1-C16')], tokens: [1.3e6, 2.6e6], vocabSize: 512, seqLen: 64, batch: 8, maxRunFlops: 1e12 });
  assert.ok(capped.every((r) => r.flops <= 1e12));
  assert.deepEqual(capped.map((r) => r.id).filter((id) => id.startsWith('L2-C64')), [], 'L2-C64 costs over 1e12 at 1.3M tokens');
  assert.equal(capped.length, 5);
  assert.throws(() => planGrid({ shapes: [], tokens: [1e6], vocabSize: 512, seqLen: 64, batch: 8 }), /needs --shapes/);
  assert.throws(() => planGrid({ shapes, tokens: [Number.NaN], vocabSize: 512, seqLen: 64, batch: 8 }), /--tokens must be positive numbers, got NaN/);
  assert.throws(() => planGrid({ shapes, tokens: [1e6], vocabSize: 512, seqLen: 64, batch: 8, maxRunFlops: 1e9 }), /the grid has 0 runs/);
});

test('a compute-optimal target keeps a one-depth sweep\'s depth, and comes from the ladder otherwise', () => {
  const stateOf = (shapes: string[]) => ({ plan: planGrid({ shapes: shapes.map(parseShape), tokens: [1e6, 2e6], vocabSize: 512, seqLen: 64, batch: 8 }) }) as unknown as SweepState;
  const one = candidateShapes(stateOf(['L1-C24', 'L1-C32', 'L1-C48']));
  assert.ok(one.length > 100 && one.every((s) => s.nLayer === 1 && s.nEmbd % 16 === 0 && s.nEmbd % s.nHead === 0));
  assert.ok(one.some((s) => s.nEmbd === 448));
  assert.deepEqual(candidateShapes(stateOf(['L1-C24', 'L2-C32', 'L2-C48'])), [...LADDER]);
});

test('test-sized sweep: resumes after an interruption, fits, and predicts a run with >= 100x the compute', async () => {
  const t0 = performance.now();
  const stopped = new AbortController();
  stopped.abort();
  const first = await runSweep(dir, TEST_SWEEP, { quiet: true, signal: stopped.signal });
  assert.equal(first.interrupted, true);
  assert.equal(first.trained, 0);
  assert.ok(fs.existsSync(path.join(dir, 'runs', first.state.plan[0]!.id, 'checkpoint')), 'the interrupted run left a checkpoint');
  assert.throws(() => fs.readFileSync(path.join(dir, 'runs.json')), /ENOENT/);

  const full = await runSweep(dir, {}, { quiet: true });
  assert.equal(full.interrupted, false);
  assert.equal(full.runs.length, full.state.plan.length);
  assert.ok(full.runs.length >= 7, `${full.runs.length} runs`);
  await assert.rejects(runSweep(dir, { budget: 2e10 }, { quiet: true }), /started with budget = 12000000000, not 20000000000/);

  // Dropping a finished run from runs.json retrains only that run, to the same loss.
  const runs = readRuns(dir);
  const dropped = runs[0]!;
  fs.rmSync(path.join(dir, 'runs', dropped.id), { recursive: true });
  fs.writeFileSync(path.join(dir, 'runs.json'), JSON.stringify({ runs: runs.slice(1) }));
  const again = await runSweep(dir, {}, { quiet: true });
  assert.equal(again.trained, 1);
  assert.equal(again.runs.find((r) => r.id === dropped.id)!.valLoss, dropped.valLoss, 'a resumed run ends where an uninterrupted one does');
  for (const r of again.runs) assert.equal(r.flops, flopsPerToken(configFor(r.shape, again.state.dataset.vocabSize, 32), 32) * r.tokens);

  const fit = await fitSweep(dir, { bootstrap: 30 });
  assert.ok(fit.chinchilla.rmseLog < 0.05, `in-sample rms log error ${fit.chinchilla.rmseLog}`);
  assert.ok(fit.bootstrap.length >= 25);
  for (const f of ['fit.json', 'scaling.png', 'scaling.html']) assert.ok(fs.statSync(path.join(dir, f)).size > 500, f);

  // The target: two rungs up the ladder, with 100x the compute of the largest sweep run.
  const largest = fit.sweep.largestRunFlops;
  const shape = parseShape('L2-C48');
  const fpt = flopsPerToken(configFor(shape, again.state.dataset.vocabSize, 32), 32);
  const tokens = Math.ceil((100 * largest) / fpt / 512) * 512;
  const pred = predictTarget(again.state, readFit(dir), { shape: 'L2-C48', tokens });
  assert.ok(pred.ratioToLargestRun >= 100, `ratio ${pred.ratioToLargestRun}`);
  assert.ok(pred.interval[0] <= pred.loss && pred.loss <= pred.interval[1]);
  const v = await verifyTarget(dir, { shape: 'L2-C48', tokens }, { quiet: true });
  assert.ok(v !== null);
  const seconds = (performance.now() - t0) / 1000;
  console.log(`test-sized scaling: ${again.runs.length} runs, target ${v.prediction.id} at ${v.prediction.ratioToLargestRun.toFixed(0)}x the largest run (${v.prediction.ratioToSweep.toFixed(1)}x the sweep): predicted ${v.prediction.loss.toFixed(4)} [${v.prediction.interval[0].toFixed(4)}, ${v.prediction.interval[1].toFixed(4)}], measured ${v.run.valLoss.toFixed(4)}, error ${(100 * v.relativeError).toFixed(2)}%, ${seconds.toFixed(0)} s`);
  // At this scale the runs are not yet in the power-law regime and the prediction is far off
  // (docs/scaling.md); what is checked here is the bookkeeping, not the goal.
  assert.ok(v.run.flops >= 100 * largest);
  assert.equal(v.relativeError, (v.prediction.loss - v.run.valLoss) / v.run.valLoss);
  assert.equal(v.insideInterval, v.run.valLoss >= v.prediction.interval[0] && v.run.valLoss <= v.prediction.interval[1]);
  assert.ok(v.run.valLoss < Math.min(...again.runs.map((r) => r.valLoss)), 'a run with 100x the compute beats every sweep run');
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'verify.json'), 'utf8')) as { verifications: { prediction: { id: string } }[] };
  assert.deepEqual(saved.verifications.map((x) => x.prediction.id), [v.prediction.id]);
  assert.ok(fs.existsSync(path.join(dir, 'predictions.json')));
});
