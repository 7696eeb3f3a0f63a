import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../backend/rng.ts';
import { generate } from '../generate/generate.ts';
import { generateBestOf } from '../generate/best-of.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { makeTinyModel, type TinyModel } from '../serve/testing/fixtures.ts';
import type { TokenizedPair } from './preferences.ts';
import { copyModel } from './experiment.ts';
import { bradleyTerryLoss, loadRewardModel, RewardModel, rewardEvaluate, rewardsOf, saveRewardModel, trainRewardModel } from './reward-model.ts';

describe('reward model', () => {
  let tiny: TinyModel;
  let dir: string;
  before(async () => {
    tiny = await makeTinyModel();
    dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-rm-'));
  });
  after(async () => {
    await tiny.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('Bradley–Terry loss and its derivatives', () => {
    const c = [1.5, -0.2, 3];
    const r = [0.5, 0.4, -1];
    const res = bradleyTerryLoss(c, r, 0.05);
    const expected = (c.reduce((s, x, i) => s + Math.log1p(Math.exp(-(x - r[i]!))) + 0.05 * (x + r[i]!) ** 2, 0)) / 3;
    assert.ok(Math.abs(res.loss - expected) < 1e-12);
    assert.equal(res.metrics.accuracy, 2 / 3);
    for (let i = 0; i < 3; i++) {
      for (const [side, g] of [['c', res.gradChosen], ['r', res.gradRejected]] as const) {
        const at = (d: number): number => {
          const cc = [...c];
          const rr = [...r];
          (side === 'c' ? cc : rr)[i]! += d;
          return bradleyTerryLoss(cc, rr, 0.05).loss;
        };
        assert.ok(Math.abs((at(1e-6) - at(-1e-6)) / 2e-6 - g[i]!) < 1e-7);
      }
    }
  });

  it("learns which completions are preferred; best-of-n with it picks them; saves in transformers' layout", async () => {
    const { model, tokenizer } = tiny.lm;
    const V = model.config.vocabSize;
    // The preference: completions whose last token is in the lower half of the vocabulary.
    const good = (ids: readonly number[]): boolean => ids.length > 0 && ids[ids.length - 1]! < V / 2;
    const prompts = ['The Congress', 'Our nation', 'We the people', 'In this year', 'The people of', 'Fellow citizens'];
    // Pairs that cover every token as the last one, with random tokens before it.
    const rng = new Rng(7);
    const rand = (): number => Math.floor(rng.uniform() * V);
    const half = Math.floor(V / 2);
    const pairs: TokenizedPair[] = Array.from({ length: 2 * half }, (_, i) => ({
      prompt: tokenizer.encode(prompts[i % prompts.length]!),
      chosen: [rand(), rand(), i % half],
      rejected: [rand(), rand(), half + ((7 * i) % (V - half))],
      source: `pair ${i}`,
    }));
    const rm = new RewardModel(copyModel(model), { seed: 1 });
    for (const p of rm.parameters()) p.requiresGrad = true;
    const pad = tokenizer.eotId ?? 0;
    const res = await trainRewardModel({ rm, train: pairs, steps: 80, batchSize: 16, lr: 3e-3, seed: 1, pad, logFile: path.join(dir, 'log.jsonl') });
    assert.equal(res.steps, 80);
    assert.ok(rewardEvaluate(rm, pairs, pad)['accuracy']! >= 0.9);

    // Best-of-4 by reward raises the rate of the preferred property over plain sampling.
    let plain = 0;
    let best = 0;
    const trials = 24;
    for (let t = 0; t < trials; t++) {
      const prompt = prompts[t % prompts.length]!;
      const one = await generate(tiny.lm, prompt, { maxTokens: 5, temperature: 1, seed: 1000 + t, stopAtEndOfText: false });
      if (good(one.completions[0]!.tokens.map((x) => x.id))) plain++;
      const b = await generateBestOf(tiny.lm, prompt, {
        bestOf: 4, maxTokens: 5, temperature: 1, seed: 1000 + t, stopAtEndOfText: false,
        score: (_p, cs) => rewardsOf(rm, cs.map((c) => [...one.promptTokens, ...c.tokens.map((x) => x.id)]), pad),
      });
      if (good(b.completions[0]!.tokens.map((x) => x.id))) best++;
      assert.equal(b.scores[0], Math.max(...b.candidates.map((c) => c.score)));
    }
    assert.ok(best >= plain + 6 && best >= 0.8 * trials, `preferred in ${plain}/${trials} plain samples, ${best}/${trials} best-of-4`);

    const out = path.join(dir, 'rm');
    await saveRewardModel(out, rm, tokenizer);
    const config = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([config['architectures'], config['num_labels'], config['pad_token_id']], [['GPT2ForSequenceClassification'], 1, tokenizer.eotId]);
    const st = openSafetensors(path.join(out, 'model.safetensors'));
    try {
      assert.ok(st.names.includes('transformer.h.0.attn.c_attn.weight'));
      assert.deepEqual(st.info('score.weight').shape, [1, model.config.nEmbd]);
    } finally {
      st.close();
    }
    const loaded = await loadRewardModel(out);
    const seqs = pairs.slice(0, 4).map((p) => [...p.prompt, ...p.chosen]);
    assert.deepEqual(rewardsOf(loaded.rm, seqs, pad), rewardsOf(rm, seqs, pad));
    await assert.rejects(loadRewardModel(tiny.dir), /is not a reward model \(GPT2ForSequenceClassification\); train one with `genlab reward train/);
  });
});
