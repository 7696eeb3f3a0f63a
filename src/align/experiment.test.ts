// Alignment end to end on a tiny pre-trained model: preference pairs from the model's own samples
// (mentions " the" vs does not), DPO with LoRA, and the property's rate in fresh samples of
// held-out prompts before vs after; the collapse guard on an over-eager run; and the `genlab align`
// and `genlab reward` commands on files.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Device } from '../backend/device.ts';
import { createDevice, setDefaultDevice } from '../backend/registry.ts';
import type { LanguageModel } from '../generate/generate.ts';
import { loadModel, saveModel } from '../io/model-folder.ts';
import { loadAdapter } from '../io/peft.ts';
import { attachAdapter, freezeBase, LoraAdapter } from '../nn/lora.ts';
import { alignCommand } from './align-command.ts';
import { referenceLogprobs, trainDpo } from './dpo.ts';
import { copyModel, propertyPairs, runPropertyExperiment, sampleProperty } from './experiment.ts';
import type { LoopEvent, LoopStep } from './pair-loop.ts';
import { rewardScoreCommand, rewardTrainCommand } from './reward-command.ts';
import { PROMPTS, pretrainedTinyLm } from './testing/fixtures.ts';

const mentionsThe = (s: string): boolean => /\bthe\b/.test(s);
const lora = { r: 8, alpha: 16, dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'], rsLora: false };

describe('alignment end to end', () => {
  let dev: Device;
  let base: LanguageModel;
  let dir: string;
  before(async () => {
    dev = await createDevice({ backend: 'wasm', threads: 2 });
    setDefaultDevice(dev);
    base = await pretrainedTinyLm(dev);
    dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-align-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await dev.close();
  });

  it("DPO on the model's own samples raises the preferred property's rate in fresh samples", async () => {
    const lm = { model: copyModel(base.model), tokenizer: base.tokenizer };
    const events: LoopEvent[] = [];
    const r = await runPropertyExperiment({
      lm,
      property: mentionsThe,
      trainPrompts: PROMPTS.slice(0, 10),
      evalPrompts: PROMPTS.slice(8),
      samplesPerPrompt: 24,
      pairsPerPrompt: 8,
      evalSamplesPerPrompt: 16,
      sampling: { maxTokens: 8, temperature: 1, seed: 3 },
      lora,
      dpo: { beta: 0.1, lr: 1e-3, steps: 80, batchSize: 8 },
      seed: 5,
      onEvent: (e) => events.push(e),
    });
    assert.ok(r.pairs >= 40, `${r.pairs} pairs`);
    assert.ok(r.before.rate < 0.25, `the property starts rare: ${r.before.rate}`);
    assert.ok(r.after.rate >= r.before.rate + 0.2, `rate ${r.before.rate} → ${r.after.rate}`);
    assert.ok(r.kl.perSequence > 0 && r.kl.perSequence < 20, `KL ${r.kl.perSequence}`);
    assert.deepEqual(events, [], 'a healthy run raises no warnings');
    // The base model is untouched: with the adapter detached its samples are the "before" samples.
    attachAdapter(lm.model, null);
    const again = await sampleProperty(lm, PROMPTS.slice(8), 16, mentionsThe, { maxTokens: 8, temperature: 1, seed: 3 + 1_000_003 });
    assert.equal(again.rate, r.before.rate);
  });

  it('reports chosen log-probabilities collapsing, and --sft-weight keeps them up', async () => {
    const model = copyModel(base.model);
    const lm = { model, tokenizer: base.tokenizer };
    const pool = await sampleProperty(lm, PROMPTS.slice(0, 10), 24, mentionsThe, { maxTokens: 8, temperature: 1, seed: 3 });
    const pairs = propertyPairs(pool.samples, 8, base.tokenizer, 64);
    freezeBase(model);
    const run = async (lr: number, sftWeight: number): Promise<{ events: LoopEvent[]; last: LoopStep }> => {
      const adapter = LoraAdapter.create(model, lora, { seed: 5 });
      attachAdapter(model, adapter);
      const refs = referenceLogprobs(model, pairs, { adapter, pad: 0 });
      const events: LoopEvent[] = [];
      const res = await trainDpo({ model, adapter, train: refs, steps: 60, batchSize: 8, lr, beta: 0.1, sftWeight, seed: 5, pad: 0, logFile: null, onEvent: (e) => events.push(e) });
      return { events, last: res.last! };
    };
    // Too high a learning rate: the margin grows because both completions sink.
    const eager = await run(5e-3, 0);
    assert.ok(eager.events.some((e) => e.kind === 'chosen-collapse'), JSON.stringify(eager.events));
    assert.match(eager.events[0]!.message, /nats\/token less likely than under the reference.*--sft-weight/);
    assert.ok(Number(eager.last['logps/chosen_delta_per_token']) < -1);
    const anchored = await run(5e-3, 1);
    assert.deepEqual(anchored.events, []);
    assert.ok(Number(anchored.last['logps/chosen_delta_per_token']) > -1, `chosen Δ/token ${anchored.last['logps/chosen_delta_per_token']}`);
    assert.ok(Number(anchored.last['rewards/margins']) > 0);
  });

  it('genlab align and genlab reward work on files', async () => {
    const modelDir = path.join(dir, 'model');
    await saveModel(modelDir, { model: copyModel(base.model), tokenizer: base.tokenizer });
    const pool = await sampleProperty(base, PROMPTS.slice(0, 10), 24, mentionsThe, { maxTokens: 8, temperature: 1, seed: 9 });
    const lines: string[] = [];
    for (const p of PROMPTS.slice(0, 10)) {
      const yes = pool.samples.filter((s) => s.prompt === p && s.has && s.text.trim());
      const no = pool.samples.filter((s) => s.prompt === p && !s.has && s.text.trim());
      for (let i = 0; i < Math.min(yes.length, no.length, 3); i++) lines.push(JSON.stringify({ prompt: p, chosen: yes[i]!.text, rejected: no[i]!.text }));
    }
    assert.ok(lines.length >= 8, `${lines.length} pairs`);
    const data = path.join(dir, 'prefs.jsonl');
    await writeFile(data, lines.join('\n') + '\n');

    const out = path.join(dir, 'adapter');
    const res = await alignCommand({ model: modelDir, data, out, loraR: 4, loraAlpha: 8, loraDropout: 0, target: ['c_attn', 'c_proj', 'c_fc'], beta: 0.1, steps: 12, batch: 4, lr: 2e-3, seed: 1, quiet: true });
    assert.equal(res.train.steps, 12);
    const log = (await readFile(path.join(out, 'align-log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
    const steps = log.filter((l) => l['type'] === 'step');
    assert.equal(steps.length, 12);
    for (const key of ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'lr', 'gradNorm']) {
      assert.ok(steps.every((s) => typeof s[key] === 'number' && Number.isFinite(s[key])), `every step logs a finite ${key}`);
    }
    assert.ok(Math.abs(Number(steps[0]!['loss']) - Math.LN2) < 1e-4);
    const record = JSON.parse(await readFile(path.join(out, 'run.json'), 'utf8')) as { genlab: { kind: string; method: string }; hyperparameters: { beta: number } };
    assert.deepEqual([record.genlab.kind, record.genlab.method, record.hyperparameters.beta], ['alignment', 'DPO with LoRA (r 4, α 8, on c_attn, c_proj, c_fc)', 0.1]);
    // The PEFT folder loads back onto the base model.
    const loaded = await loadModel(modelDir);
    const adapter = await loadAdapter(out, loaded.model);
    assert.equal(adapter.config.r, 4);

    const rmDir = path.join(dir, 'rm');
    const rr = await rewardTrainCommand({ model: modelDir, data, out: rmDir, steps: 10, batch: 4, lr: 1e-3, seed: 1, quiet: true });
    assert.equal(rr.train.steps, 10);
    assert.ok(existsSync(path.join(rmDir, 'model.safetensors')) && existsSync(path.join(rmDir, 'reward-log.jsonl')));
    const printed: string[] = [];
    const orig = console.log;
    console.log = (s: string) => printed.push(s);
    let scores: number[];
    try {
      scores = await rewardScoreCommand({ model: rmDir, prompt: 'The Congress', completion: [' of the nation', ' xq'], json: true });
    } finally {
      console.log = orig;
    }
    assert.equal(scores.length, 2);
    assert.deepEqual(JSON.parse(printed[0]!).rewards.map((r: { reward: number }) => r.reward), scores);
  });
});
