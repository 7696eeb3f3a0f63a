// Alignment through the server: feedback in, a background DPO run that leaves the server
// answering, the result served as an adapter next to its base (whose outputs do not change), the
// same adapter served again with `serve --adapter`; reward scores and best_of through the API.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { RunRecord } from '../record/run-record.ts';
import { generate } from '../generate/generate.ts';
import { RewardModel, saveRewardModel, loadRewardModel, scoreCompletions, trainRewardModel } from '../align/reward-model.ts';
import { tokenizePairs } from '../align/preferences.ts';
import { Gpt } from '../models/gpt.ts';
import { serveCommand } from './index.ts';
import { loadLanguageModel } from '../io/model-folder.ts';
import { writeTinyLlamaFolder } from '../io/testing/tiny-llama.ts';
import { makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import type { AlignRun } from './wire.ts';

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const PROMPTS = ['The Congress', 'Our nation', 'We the people', 'In this year', 'The people of', 'Fellow citizens'];

describe('alignment and reward models in the server', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let tmp: string;

  before(async () => {
    tiny = await makeTinyModel();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-align-api-'));
    srv = await startTestServer(tiny.lm, tiny.dir, { db: path.join(tmp, 'feedback.sqlite'), runsDir: path.join(tmp, 'runs') });
  });

  after(async () => {
    await srv.close();
    await tiny.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  const post = (url: string, body: unknown): Promise<Response> => fetch(srv.url + url, json(body));
  const analyze = async (model: string): Promise<number[]> => {
    const r = await post('/api/analyze', { text: 'The Congress of the United States shall assemble', model });
    assert.equal(r.status, 200);
    return ((await r.json()) as { tokens: { logprob: number | null }[] }).tokens.map((t) => t.logprob ?? 0);
  };

  it('trains on the collected feedback in the background and serves the result next to the base', async () => {
    const none = await post('/api/align', {});
    assert.equal(none.status, 400);
    assert.match(((await none.json()) as { error: { message: string } }).error.message, /needs at least 2/);

    for (const p of PROMPTS) {
      const r = await post('/api/feedback', { kind: 'preference', prompt: p, chosen: ' of the United States and the nation', rejected: ' zq xv kj', source: 'compare' });
      assert.equal(r.status, 201);
    }
    // Ratings of the same prompt also make a pair.
    await post('/api/feedback', { kind: 'rating', prompt: 'Peace', completion: ' and the people', rating: 'up' });
    await post('/api/feedback', { kind: 'rating', prompt: 'Peace', completion: ' vq zz', rating: 'down' });
    const summary = (await (await fetch(srv.url + '/api/align')).json()) as { pairs: { preferences: number; from_ratings: number; total: number } };
    assert.deepEqual(summary.pairs, { preferences: 6, from_ratings: 1, total: 7 });

    const baseBefore = await analyze('tiny');
    const start = await post('/api/align', { steps: 12, lr: 0.005, beta: 0.1, seed: 3 });
    assert.equal(start.status, 202);
    const run = (await start.json()) as AlignRun;
    assert.equal(run.steps, 12);
    // The settings use the request's field names, with the defaults filled in.
    assert.deepEqual(run.settings, { steps: 12, beta: 0.1, lr: 0.005, lora_r: 8, lora_alpha: 16, batch: 8, sft_weight: 0, ratings: true, seed: 3 });
    const again = await post('/api/align', {});
    assert.equal(again.status, 409, 'one run at a time');

    // The server keeps answering while the run trains.
    let answered = 0;
    let view: AlignRun = run;
    const deadline = Date.now() + 60_000;
    while (view.status !== 'done' && view.status !== 'failed' && Date.now() < deadline) {
      const s = await post('/api/autocomplete', { context: 'The Congress', length: 4, n: 1, seed: answered });
      assert.equal(s.status, 200);
      answered++;
      view = (await (await fetch(`${srv.url}/api/align/${run.id}`)).json()) as AlignRun;
    }
    assert.equal(view.status, 'done', view.error ?? 'timed out');
    assert.ok(answered >= 1);
    assert.equal(view.points.length, 12);
    // Step 1 sees the policy equal to the reference: the DPO loss is exactly log 2 there.
    assert.ok(Math.abs(view.points[0]!.loss - Math.LN2) < 1e-4, `first loss ${view.points[0]!.loss}`);
    assert.ok(view.points.at(-1)!.margin > 0, 'the reward margin grew');
    const since = (await (await fetch(`${srv.url}/api/align/${run.id}?since=10`)).json()) as AlignRun;
    assert.deepEqual(since.points.map((p) => p.step), [11, 12]);

    const models = (await (await fetch(srv.url + '/v1/models')).json()) as { data: { id: string; parent: string | null }[] };
    const served = models.data.find((m) => m.id === view.model);
    assert.deepEqual(served, { ...served!, parent: 'tiny' });
    // The runs folder (outside the server's working directory) is shown by name only, never as an absolute path.
    assert.equal(view.dir, run.id);
    const runDir = path.join(tmp, 'runs', view.dir!);
    assert.ok(existsSync(path.join(runDir, 'adapter_config.json')) && existsSync(path.join(runDir, 'adapter_model.safetensors')));
    // The run record comes from the same writer as the CLI's: lineage, data hash, compute, energy.
    const record = JSON.parse(await readFile(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    assert.deepEqual([record.genlab.kind, record.parent.model!.name, record.parent.model!.runRecordSha256], ['alignment', 'tiny', null], 'the tiny base has no run record of its own');
    assert.equal(record.data!.sources[0]!.kind, 'preference-pairs');
    assert.match(record.data!.sources[0]!.sha256, /^[0-9a-f]{64}$/);
    assert.equal(record.training.steps, 12);
    assert.ok(record.training.trainingFlops > 0 && record.training.wallSeconds > 0 && record.energy.kWh > 0 && record.emissions.gCO2e > 0);
    assert.match(record.energy.note, /whole server process/);
    const log = (await readFile(path.join(runDir, 'align-log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    assert.equal(log.filter((l) => l.type === 'step').length, 12);

    // The adapter changes the aligned model's probabilities and leaves the base's as they were.
    const aligned = await analyze(view.model!);
    assert.deepEqual(await analyze('tiny'), baseBefore);
    assert.notDeepEqual(aligned, baseBefore);
    const chosenLp = async (model: string): Promise<number> => {
      const r = (await (await post('/v1/completions', { model, prompt: 'The Congress of the United States and the nation', max_tokens: 0, echo: true, logprobs: 0 })).json()) as { choices: { logprobs: { token_logprobs: (number | null)[] } }[] };
      return r.choices[0]!.logprobs.token_logprobs.slice(2).reduce<number>((s, x) => s + (x ?? 0), 0);
    };
    assert.ok((await chosenLp(view.model!)) > (await chosenLp('tiny')), 'the chosen completion became more likely');

    // A run can be cancelled; it stops after its current step and serves nothing.
    const long = (await (await post('/api/align', { steps: 5000 })).json()) as AlignRun;
    const cancelled = await post(`/api/align/${long.id}/cancel`, {});
    assert.equal(cancelled.status, 200);
    let c: AlignRun = long;
    for (let i = 0; i < 200 && c.status !== 'cancelled'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      c = (await (await fetch(`${srv.url}/api/align/${long.id}`)).json()) as AlignRun;
    }
    assert.equal(c.status, 'cancelled');
    assert.equal(c.model, null);
    assert.ok(c.step < 5000);
    assert.equal((await fetch(`${srv.url}/api/align/nope`)).status, 404);

    // `serve --adapter name=DIR` serves the same adapter from its folder: same outputs.
    const other = await serveCommand({ model: tiny.dir, adapters: [{ name: 'aligned', dir: runDir }], port: 0, db: path.join(tmp, 'other.sqlite'), webRoot: null });
    try {
      const ids = ((await (await fetch(other.url + '/v1/models')).json()) as { data: { id: string; parent: string | null }[] }).data.map((m) => [m.id, m.parent]);
      assert.deepEqual(ids, [['tiny', null], ['aligned', 'tiny']]);
      const r = await fetch(other.url + '/api/analyze', json({ text: 'The Congress of the United States shall assemble', model: 'aligned' }));
      const lp = ((await r.json()) as { tokens: { logprob: number | null }[] }).tokens.map((t) => t.logprob ?? 0);
      lp.forEach((x, i) => assert.ok(Math.abs(x - aligned[i]!) < 1e-5, `token ${i}: ${x} vs ${aligned[i]}`));
    } finally {
      await other.close();
    }
  });

  it('scores with a reward model and returns the best of best_of candidates', async () => {
    // A reward model on the tiny model's backbone that prefers completions mentioning "the".
    const backbone = new Gpt(tiny.lm.model.config, { device: tiny.lm.model.device });
    backbone.loadStateDict(new Map(tiny.lm.model.namedParameters().map(([n, t]) => [n, t.toArray() as Float32Array])));
    const rm = new RewardModel(backbone, { seed: 1 });
    const pairs = tokenizePairs(
      PROMPTS.flatMap((p, i) => [
        { prompt: p, chosen: ' the nation', rejected: ' qz vk', source: `a${i}` },
        { prompt: p, chosen: ' of the people', rejected: ' zx', source: `b${i}` },
      ]),
      tiny.lm.tokenizer,
      { maxLength: 64 },
    );
    await trainRewardModel({ rm, train: pairs, steps: 30, batchSize: 8, lr: 3e-3, seed: 1, pad: tiny.lm.tokenizer.eotId ?? 0, logFile: null });
    const rmDir = path.join(tmp, 'rm');
    await saveRewardModel(rmDir, rm, tiny.lm.tokenizer);
    const reward = await loadRewardModel(rmDir);
    const withRm = await startTestServer(tiny.lm, tiny.dir, { rewardModel: reward });
    try {
      const scored = (await (await fetch(withRm.url + '/api/reward', json({ prompt: 'Our nation', completions: [' the nation', ' qz vk'] }))).json()) as { model: string; data: { reward: number }[] };
      assert.equal(scored.model, 'rm', 'the reward model is named by its folder, not its absolute path');
      const local = scoreCompletions(reward, 'Our nation', [' the nation', ' qz vk']);
      assert.deepEqual(scored.data.map((d) => d.reward), local);
      assert.ok(local[0]! > local[1]!, `the reward model prefers the chosen style: ${local}`);

      const client = new OpenAI({ baseURL: withRm.url + '/v1', apiKey: 'none' });
      const req = { model: 'tiny', prompt: 'The people of', max_tokens: 6, temperature: 1, seed: 11 };
      const best = await client.completions.create({ ...req, best_of: 4, n: 1 });
      assert.equal(best.choices.length, 1);
      const candidates = await generate(tiny.lm, req.prompt, { n: 4, maxTokens: 6, temperature: 1, topP: 1, topK: 0, seed: 11 });
      const rewards = scoreCompletions(reward, req.prompt, candidates.completions.map((c) => c.text));
      const top = rewards.indexOf(Math.max(...rewards));
      assert.equal(best.choices[0]!.text, candidates.completions[top]!.text);
      assert.equal(best.usage!.completion_tokens, candidates.completions.reduce((s, c) => s + c.tokens.length, 0), 'usage counts every candidate');
    } finally {
      await withRm.close();
    }

    // Without a reward model best_of ranks by mean token log-probability.
    const mean = (await (await post('/v1/completions', { model: 'tiny', prompt: 'Our nation', max_tokens: 5, temperature: 1, seed: 5, best_of: 3, n: 2 })).json()) as { choices: { text: string; index: number }[] };
    const cands = await generate(tiny.lm, 'Our nation', { n: 3, maxTokens: 5, temperature: 1, topP: 1, topK: 0, seed: 5 });
    const means = cands.completions.map((c) => c.tokens.reduce((s, t) => s + t.logprob, 0) / c.tokens.length);
    const order = means.map((m, i) => [m, i] as const).sort((a, b) => b[0] - a[0]).map(([, i]) => i);
    assert.deepEqual(mean.choices.map((c) => [c.index, c.text]), order.slice(0, 2).map((i, k) => [k, cands.completions[i]!.text]));

    const bad = await post('/v1/completions', { model: 'tiny', prompt: 'x', best_of: 2, n: 3 });
    assert.equal(bad.status, 400);
    const streamed = await post('/v1/completions', { model: 'tiny', prompt: 'x', best_of: 3, stream: true });
    assert.equal(streamed.status, 400);
    assert.equal(((await streamed.json()) as { error: { param: string } }).error.param, 'best_of');
    const noRm = await post('/api/reward', { completions: ['x'] });
    assert.equal(noRm.status, 404);
  });
});

describe("the app's Align run on a Llama-family model", () => {
  it('trains LoRA on the Llama targets and serves the adapter', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-align-llama-'));
    const dir = await writeTinyLlamaFolder(path.join(tmp, 'tiny-llama'));
    const srv = await startTestServer(await loadLanguageModel(dir), dir, { db: path.join(tmp, 'feedback.sqlite'), runsDir: path.join(tmp, 'runs') });
    try {
      for (const p of ['the cat', 'a dog', 'the sun', 'a bird']) {
        const r = await fetch(srv.url + '/api/feedback', json({ kind: 'preference', prompt: p, chosen: ' sat on the mat', rejected: ' zq xv', source: 'compare' }));
        assert.equal(r.status, 201);
      }
      const start = await fetch(srv.url + '/api/align', json({ steps: 2, lr: 0.005, seed: 3 }));
      assert.equal(start.status, 202);
      let view = (await start.json()) as AlignRun;
      const deadline = Date.now() + 60_000;
      while (view.status !== 'done' && view.status !== 'failed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        view = (await (await fetch(`${srv.url}/api/align/${view.id}`)).json()) as AlignRun;
      }
      assert.equal(view.status, 'done', view.error ?? 'timed out');
      assert.ok(Math.abs(view.points[0]!.loss - Math.LN2) < 1e-4, `first loss ${view.points[0]!.loss}`);
      const cfg = JSON.parse(await readFile(path.join(tmp, 'runs', view.dir!, 'adapter_config.json'), 'utf8')) as { target_modules: string[]; fan_in_fan_out: boolean };
      assert.deepEqual(cfg.target_modules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
      assert.equal(cfg.fan_in_fan_out, false);
      const models = (await (await fetch(srv.url + '/v1/models')).json()) as { data: { id: string; parent: string | null }[] };
      assert.equal(models.data.find((m) => m.id === view.model)?.parent, 'tiny-llama');
    } finally {
      await srv.close();
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
