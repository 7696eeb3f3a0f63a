// GET /api/scaling and /api/scaling/:id on a real test-sized sweep (testing/scaling-sweep.ts): the
// records come back as src/scaling's readers return them, the chart is scalingChartOptions', and
// the summary's numbers are checked against the fit report and against the prediction error and
// compute ratios recomputed here from the raw runs. Damaged and missing files give errors that name
// the file, and the server keeps answering.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scalingChartOptions } from '../scaling/plots.ts';
import { readFit, readPredictions, readVerifications } from '../scaling/results.ts';
import { readRuns, readSweep } from '../scaling/sweep.ts';
import { createServer } from './server.ts';
import { FeedbackStore } from './feedback-store.ts';
import { makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import { makeTestSweep, type TestSweep } from './testing/scaling-sweep.ts';
import type { ErrorBody, ScalingDetail, ScalingList } from './wire.ts';

/** The chart's options as far as these tests read them. */
type Detail = Omit<ScalingDetail, 'chart'> & {
  chart: { series: { name: string; type: string; data: [number, number][] }[]; xAxis: { axisLabel: Record<string, unknown> } } | null;
};

const JSON_FILES = ['sweep.json', 'runs.json', 'fit.json', 'predictions.json', 'verify.json'];

describe('the scaling API', () => {
  let tmp: string;
  let sweep: TestSweep;
  let tiny: TinyModel;
  let srv: TestServer;
  const damaged: Record<string, string> = {};

  /** A copy of the sweep's JSON files (not its checkpoints) under `name`. */
  const copy = (name: string, files = JSON_FILES): string => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    for (const f of files) fs.copyFileSync(path.join(sweep.dir, f), path.join(dir, f));
    return dir;
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-scaling-api-'));
    sweep = await makeTestSweep(path.join(tmp, 'sweep'));
    tiny = await makeTinyModel();
    for (const name of ['bad-runs', 'bad-fit', 'bad-predictions', 'bad-verify', 'gone', 'bad-sweep', 'overflow']) damaged[name] = copy(name);
    damaged['unfitted'] = copy('unfitted', ['sweep.json', 'runs.json']);
    damaged['started'] = copy('started', ['sweep.json']);
    srv = await startTestServer(tiny.lm, tiny.dir, { scaling: [sweep.dir, ...Object.values(damaged)] });
  });

  after(async () => {
    await srv?.close();
    await tiny?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const get = async <T,>(url: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(srv.url + url);
    return { status: res.status, body: (await res.json()) as T };
  };

  it('lists every sweep folder with its counts', async () => {
    const { status, body } = await get<ScalingList>('/api/scaling');
    assert.equal(status, 200);
    assert.deepEqual(
      body.sweeps.map((s) => s.id),
      ['sweep', 'bad-runs', 'bad-fit', 'bad-predictions', 'bad-verify', 'gone', 'bad-sweep', 'overflow', 'unfitted', 'started'],
    );
    assert.deepEqual(body.sweeps[0], {
      id: 'sweep', name: 'sweep', folder: sweep.dir, runs: readRuns(sweep.dir).length, planned_runs: readSweep(sweep.dir).plan.length,
      fit: true, predictions: 2, verifications: 1, error: null,
    });
    assert.equal(readRuns(sweep.dir).length, readSweep(sweep.dir).plan.length, 'every planned run finished');
    const started = body.sweeps.find((s) => s.id === 'started')!;
    assert.deepEqual([started.runs, started.fit, started.predictions, started.error], [0, false, 0, null]);
  });

  it('returns the records as the files hold them, the chart options and a summary that matches them', async () => {
    const { status, body } = await get<Detail>('/api/scaling/sweep');
    assert.equal(status, 200);
    const runs = readRuns(sweep.dir);
    const fit = readFit(sweep.dir);
    const predictions = readPredictions(sweep.dir);
    const verifications = readVerifications(sweep.dir);
    assert.deepEqual(body.runs, runs);
    assert.deepEqual(body.fit, fit);
    assert.deepEqual(body.predictions, predictions);
    assert.deepEqual(body.verifications, verifications);

    // The chart is the library's (what scaling.png shows), minus the axis-label function JSON cannot carry.
    assert.deepEqual(body.chart, JSON.parse(JSON.stringify(scalingChartOptions(runs, fit, predictions, verifications))));
    assert.deepEqual(body.chart!.xAxis.axisLabel, {});
    const names = body.chart!.series.map((s) => s.name);
    for (const p of predictions) assert.ok(names.includes(`predicted ${p.id} (95%)`), names.join(' | '));
    const measured = body.chart!.series.find((s) => s.name === 'measured')!;
    assert.deepEqual(measured.data.map(([c]) => c), [sweep.verification.run.flops]);

    const s = body.summary;
    assert.equal(s.sweep.finished_runs, runs.length);
    assert.equal(s.sweep.total_flops, runs.reduce((a, r) => a + r.flops, 0));
    const largest = Math.max(...runs.map((r) => r.flops));
    assert.equal(s.sweep.largest_run_flops, largest);
    assert.deepEqual(s.fit!.params.map((p) => [p.symbol, p.value, p.interval]), [
      ['E', fit.chinchilla.E, fit.chinchilla.ci.E],
      ['A', fit.chinchilla.A, fit.chinchilla.ci.A],
      ['α', fit.chinchilla.alpha, fit.chinchilla.ci.alpha],
      ['B', fit.chinchilla.B, fit.chinchilla.ci.B],
      ['β', fit.chinchilla.beta, fit.chinchilla.ci.beta],
    ]);
    assert.equal(s.fit!.stale, false);
    assert.deepEqual(s.compute_law, { a: fit.computeLaw!.a, b: fit.computeLaw!.b, c: fit.computeLaw!.c, frontier_runs: fit.computeLaw!.frontier.length, rmse_log: fit.computeLaw!.rmseLog });
    assert.ok(fit.chinchilla.alpha > 0 && fit.chinchilla.beta > 0, 'the test sweep is sized for a fit with compute-optimal allocations');
    assert.deepEqual(s.compute_optimal.map((o) => o.multiple), [10, 100, 1000]);
    assert.deepEqual(s.compute_optimal.map((o) => [o.flops, o.n, o.d, o.loss]), fit.computeOptimal.map((o) => [o.flops, o.n, o.d, o.loss]));
    for (const o of s.compute_optimal) {
      assert.ok(Math.abs(o.flops / largest - o.multiple) < 1e-9 * o.multiple);
      // C = k·N·D with the k the fit measured.
      assert.ok(o.n !== null && o.d !== null && Math.abs((fit.flopsPerParamToken * o.n * o.d) / o.flops - 1) < 1e-6, `${o.multiple}×: k·N·D ≠ C`);
    }

    // Predicted vs measured, recomputed from the raw records.
    assert.equal(s.predictions.length, 2);
    const v = sweep.verification;
    const row = s.predictions.find((r) => r.id === v.prediction.id)!;
    assert.equal(row.measured, v.run.valLoss);
    assert.ok(Math.abs(row.error_percent! - (100 * (v.prediction.loss - v.run.valLoss)) / v.run.valLoss) < 1e-9);
    assert.deepEqual([row.predicted, row.interval], [v.prediction.loss, v.prediction.interval]);
    assert.equal(row.inside_interval, v.run.valLoss >= v.prediction.interval[0] && v.run.valLoss <= v.prediction.interval[1]);
    assert.ok(Math.abs(row.ratio_to_largest_run - v.prediction.flops / largest) < 1e-9);
    assert.ok(Math.abs(row.ratio_to_sweep - v.prediction.flops / s.sweep.total_flops) < 1e-9);
    assert.ok(row.ratio_to_largest_run >= 3 && row.ratio_to_largest_run < 3.2, `${row.ratio_to_largest_run}`);
    const open = s.predictions.find((r) => r.id !== v.prediction.id)!;
    assert.equal(open.shape, 'L2-C32');
    assert.deepEqual([open.measured, open.error_percent, open.inside_interval], [null, null, null]);
    assert.ok(open.ratio_to_largest_run >= 30 && open.ratio_to_largest_run < 31);
    assert.equal(s.next_step, null);
  });

  it('a sweep without a fit, or without runs, says which command comes next', async () => {
    const unfitted = await get<Detail>('/api/scaling/unfitted');
    assert.equal(unfitted.status, 200);
    assert.equal(unfitted.body.fit, null);
    assert.ok(unfitted.body.chart !== null && unfitted.body.chart.series.length === new Set(readRuns(sweep.dir).map((r) => `${r.shape.nLayer}-${r.shape.nEmbd}`)).size);
    assert.equal(unfitted.body.summary.next_step, `genlab scaling fit ${damaged['unfitted']}`);
    const started = await get<Detail>('/api/scaling/started');
    assert.equal(started.status, 200);
    assert.deepEqual([started.body.runs, started.body.chart], [[], null]);
    assert.equal(started.body.summary.next_step, `genlab scaling sweep --out ${damaged['started']}`);
  });

  it('null in a fit (how JSON writes the NaN or Infinity of a degenerate fit) is shown, not refused', async () => {
    // What the library wrote for a 9-run version of the test sweep: α ≈ 6500, A = 0, so the closed
    // form gives N = 0 and D = Infinity, and the bootstrap interval of E had a NaN end.
    const file = path.join(damaged['overflow']!, 'fit.json');
    const fit = JSON.parse(fs.readFileSync(file, 'utf8')) as { chinchilla: { ci: Record<string, unknown[]> }; computeOptimal: Record<string, unknown>[] };
    for (const o of fit.computeOptimal) Object.assign(o, { n: 0, d: null, loss: null });
    fit.chinchilla.ci['E']![1] = null;
    fs.writeFileSync(file, JSON.stringify(fit));
    const r = await get<Detail>('/api/scaling/overflow');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.summary.compute_optimal.map((o) => [o.multiple, o.n, o.d, o.loss]), [[10, 0, null, null], [100, 0, null, null], [1000, 0, null, null]]);
    assert.equal(r.body.summary.fit!.params[0]!.interval[1], null);
    assert.ok(r.body.chart !== null);
  });

  it('a damaged or missing file gives an error that names it and the command that rewrites it; the server keeps answering', async () => {
    const d = damaged;
    fs.writeFileSync(path.join(d['bad-runs']!, 'runs.json'), fs.readFileSync(path.join(sweep.dir, 'runs.json'), 'utf8').slice(0, 200));
    const fit = JSON.parse(fs.readFileSync(path.join(sweep.dir, 'fit.json'), 'utf8')) as { chinchilla: Record<string, unknown> };
    fit.chinchilla['alpha'] = 'x';
    fs.writeFileSync(path.join(d['bad-fit']!, 'fit.json'), JSON.stringify(fit));
    fs.writeFileSync(path.join(d['bad-predictions']!, 'predictions.json'), 'null');
    const ver = JSON.parse(fs.readFileSync(path.join(sweep.dir, 'verify.json'), 'utf8')) as { verifications: { run: Record<string, unknown> }[] };
    delete ver.verifications[0]!.run['valLoss'];
    fs.writeFileSync(path.join(d['bad-verify']!, 'verify.json'), JSON.stringify(ver));
    fs.rmSync(path.join(d['gone']!, 'sweep.json'));
    fs.writeFileSync(path.join(d['bad-sweep']!, 'sweep.json'), '{"format": "genlab-scaling-sweep", "version": 1, "spec": {}}');

    const cases: [string, number, RegExp][] = [
      ['bad-runs', 500, /bad-runs\/runs\.json: it is not valid JSON .*run `genlab scaling sweep --out .*bad-runs` again/],
      ['bad-fit', 500, /bad-fit\/fit\.json is not a valid genlab scaling file: chinchilla\.alpha must be a number \(or null\), got "x".*`genlab scaling fit .*bad-fit`/],
      ['bad-predictions', 500, /bad-predictions\/predictions\.json: it does not hold what genlab writes there .*genlab scaling predict/],
      ['bad-verify', 500, /bad-verify\/verify\.json is not a valid genlab scaling file: verifications\[0\]\.run\.valLoss must be a number \(or null\), got undefined.*genlab scaling verify/],
      ['gone', 404, /gone\/sweep\.json no longer exists/],
      ['bad-sweep', 500, /bad-sweep\/sweep\.json is not a valid genlab scaling file: spec\.data must be an array/],
    ];
    for (const [id, status, message] of cases) {
      const r = await get<ErrorBody>(`/api/scaling/${id}`);
      assert.equal(r.status, status, `${id}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, message);
      assert.equal(r.body.error.code, status === 404 ? 'sweep_not_found' : 'invalid_sweep_file');
    }
    // The list still answers, with the reason next to each damaged folder.
    const list = await get<ScalingList>('/api/scaling');
    assert.equal(list.status, 200);
    for (const [id, , message] of cases) assert.match(list.body.sweeps.find((s) => s.id === id)!.error ?? '', message);
    assert.equal(list.body.sweeps[0]!.error, null);
    const unknown = await get<ErrorBody>('/api/scaling/nope');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /no scaling sweep 'nope'; GET \/api\/scaling lists them: sweep, bad-runs/);
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
    assert.equal((await get<Detail>('/api/scaling/sweep')).status, 200);
  });

  it('refuses to start with a folder that is not a sweep, and keeps /api/scaling behind the API key', async () => {
    const store = new FeedbackStore(':memory:');
    const models = [{ lm: tiny.lm, dir: tiny.dir }];
    try {
      const start = (scaling: string[]) => createServer({ models, store, webRoot: null, scaling });
      await assert.rejects(start([path.join(tmp, 'missing')]), /the scaling sweep folder .*missing does not exist; create it with `genlab scaling sweep --out .*missing`/);
      await assert.rejects(start([tiny.dir]), /--scaling .*: .* is not a sweep folder \(no sweep\.json\); start one with: genlab scaling sweep --out/);
      await assert.rejects(start([path.join(sweep.dir, 'runs.json')]), /is a file, not a sweep folder/);
      fs.mkdirSync(path.join(tmp, 'empty-spec'));
      fs.writeFileSync(path.join(tmp, 'empty-spec', 'sweep.json'), '{"format": "genlab-scaling-sweep", "version": 1, "spec": {"data": []}}');
      await assert.rejects(start([path.join(tmp, 'empty-spec')]), /sweep\.json is damaged \(spec\.vocabSize must be a finite number, got undefined\)/);
    } finally {
      store.close();
    }
    const locked = await startTestServer(tiny.lm, tiny.dir, { apiKey: 'k', scaling: [sweep.dir] });
    try {
      assert.equal((await fetch(`${locked.url}/api/scaling`)).status, 401);
      assert.equal((await fetch(`${locked.url}/api/scaling/sweep`)).status, 401);
      const ok = await fetch(`${locked.url}/api/scaling/sweep`, { headers: { authorization: 'Bearer k' } });
      assert.equal(ok.status, 200);
    } finally {
      await locked.close();
    }
    // Without --scaling the list is empty and the app explains how to make a sweep.
    const plain = await startTestServer(tiny.lm, tiny.dir);
    try {
      assert.deepEqual(await (await fetch(`${plain.url}/api/scaling`)).json(), { sweeps: [] });
      assert.equal((await fetch(`${plain.url}/api/scaling/sweep`)).status, 404);
    } finally {
      await plain.close();
    }
  });
});
