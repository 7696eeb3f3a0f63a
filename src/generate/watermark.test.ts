import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { defaultGptConfig, Gpt } from '../models/gpt.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { generate, scoreIds, type LanguageModel } from './generate.ts';
import { binomialUpperTail, detectWatermark, normalUpperTail, Watermark } from './watermark.ts';

/** A sequence that follows the rule `pick` (green or red successor) at every step. */
function chain(wm: Watermark, length: number, wantGreen: boolean, vocab = 1000): number[] {
  const ids = [7];
  while (ids.length < length) {
    const prev = ids[ids.length - 1]!;
    // Distinct successors keep every (previous, token) pair distinct, so none is skipped as a repeat.
    let id = (prev * 31 + ids.length * 17) % vocab;
    while (wm.isGreen(prev, id) !== wantGreen || ids.includes(id)) id = (id + 1) % vocab;
    ids.push(id);
  }
  return ids;
}

describe('watermark detector', () => {
  it('z-score matches the hand count for all-green and all-red text', () => {
    const wm = new Watermark({ gamma: 0.25 });
    // 49 ids → 48 scored tokens. All green: z = (48 − 12) / √(48·0.25·0.75) = 36/3 = 12.
    const green = detectWatermark(chain(wm, 49, true), { gamma: 0.25 });
    assert.equal(green.scored, 48);
    assert.equal(green.green, 48);
    assert.ok(Math.abs(green.z - 12) < 1e-12, `z = ${green.z}`);
    assert.equal(green.flagged, true);
    // All red: z = (0 − 12) / 3 = −4.
    const red = detectWatermark(chain(wm, 49, false), { gamma: 0.25 });
    assert.equal(red.green, 0);
    assert.ok(Math.abs(red.z + 4) < 1e-12, `z = ${red.z}`);
    assert.equal(red.flagged, false);
    assert.ok(Math.abs(red.pValue - (1 - 3.167124183311992e-5)) < 1e-7);
  });

  it('repeated (previous, token) pairs are counted once unless asked otherwise', () => {
    const ids = [5, 9, 5, 9, 5, 9, 5];
    const once = detectWatermark(ids);
    assert.equal(once.scored, 2); // (5,9) and (9,5)
    assert.deepEqual(once.perToken.map((g) => g === null), [true, false, false, true, true, true, true]);
    assert.equal(detectWatermark(ids, { ignoreRepeats: false }).scored, 6);
  });

  it('text without the watermark: green rate γ and z ~ N(0, 1)', () => {
    const rng = new Rng(42);
    const zs: number[] = [];
    let green = 0;
    let scored = 0;
    for (let s = 0; s < 300; s++) {
      const ids = Array.from({ length: 120 }, () => Math.floor(rng.uniform() * 5000));
      const d = detectWatermark(ids, { gamma: 0.25, key: 12345 });
      zs.push(d.z);
      green += d.green;
      scored += d.scored;
    }
    const rate = green / scored;
    // Binomial standard error of the rate over ~35,700 pairs is 0.0023; allow 4 of them.
    assert.ok(Math.abs(rate - 0.25) < 0.0092, `green rate ${rate}`);
    const mean = zs.reduce((a, b) => a + b, 0) / zs.length;
    const sd = Math.sqrt(zs.reduce((a, b) => a + (b - mean) ** 2, 0) / (zs.length - 1));
    assert.ok(Math.abs(mean) < 0.25, `mean z ${mean}`);
    assert.ok(sd > 0.85 && sd < 1.15, `sd of z ${sd}`);
    assert.ok(Math.max(...zs) < 4, 'no false positive at z > 4 in 300 samples');
  });

  it('the green list after a token is a γ share of the vocabulary, different per token and key', () => {
    const wm = new Watermark({ gamma: 0.5, key: 1 });
    const other = new Watermark({ gamma: 0.5, key: 2 });
    const V = 20000;
    let a = 0;
    let agreeToken = 0;
    let agreeKey = 0;
    for (let i = 0; i < V; i++) {
      const g = wm.isGreen(3, i);
      if (g) a++;
      if (g === wm.isGreen(4, i)) agreeToken++;
      if (g === other.isGreen(3, i)) agreeKey++;
    }
    // Standard error of a share over 20,000 ids is 0.0035.
    assert.ok(Math.abs(a / V - 0.5) < 0.015, `share ${a / V}`);
    assert.ok(Math.abs(agreeToken / V - 0.5) < 0.015, 'lists after different tokens are independent');
    assert.ok(Math.abs(agreeKey / V - 0.5) < 0.015, 'lists under different keys are independent');
  });

  it('normal tail probabilities', () => {
    assert.ok(Math.abs(normalUpperTail(0) - 0.5) < 1e-7);
    assert.ok(Math.abs(normalUpperTail(1.959963984540054) - 0.025) < 1e-8);
    assert.ok(Math.abs(normalUpperTail(4) / 3.167124183311992e-5 - 1) < 1e-6);
    assert.ok(Math.abs(normalUpperTail(10) / 7.61985302416047e-24 - 1) < 1e-6);
    assert.ok(Math.abs(normalUpperTail(-2) - 0.9772498680518208) < 1e-7);
  });

  it('exact binomial tail: short texts are flagged more often than the normal approximation says', () => {
    // P(X ≥ 8 | n = 10, p = 1/4) = 45·4⁻⁸·(3/4)² + 10·4⁻⁹·(3/4) + 4⁻¹⁰, by hand.
    assert.ok(Math.abs(binomialUpperTail(10, 8, 0.25) / 4.1580200195e-4 - 1) < 1e-9);
    assert.equal(binomialUpperTail(10, 0, 0.25), 1);
    assert.equal(binomialUpperTail(10, 11, 0.25), 0);
    assert.ok(Math.abs(binomialUpperTail(1000, 250, 0.25) - 0.5) < 0.03, 'the median');
    // 8 green of 10 has z = 4.02, normal p 2.9e-5, but exact p 4.2e-4.
    const wm = new Watermark();
    const ids = chain(wm, 11, true).slice(0, 9).concat(chain(wm, 11, false).slice(9, 11));
    const d = detectWatermark(ids);
    assert.equal(d.scored, 10);
    assert.ok(d.pExact >= d.pValue);
  });

  it('rejects bad parameters with the fix in the message', () => {
    assert.throws(() => new Watermark({ gamma: 1 }), /gamma must be in \(0, 1\)/);
    assert.throws(() => new Watermark({ delta: -1 }), /delta must be/);
    assert.throws(() => new Watermark({ key: 1.5 }), /key must be an integer/);
  });
});

describe('watermarked generation', () => {
  let dev: Device;
  let lm: LanguageModel;
  before(async () => {
    dev = await createDevice({ backend: 'wasm', threads: 1 });
    const dir = path.join('node_modules', '@stdlib', 'datasets-sotu', 'data');
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).slice(0, 3);
    const tokenizer = await trainBpe(files.map((f) => readFileSync(path.join(dir, f), 'utf8')), { vocabSize: 400 });
    const model = new Gpt(defaultGptConfig({ vocabSize: tokenizer.vocabSize, nPositions: 128, nEmbd: 32, nLayer: 1, nHead: 2 }), { device: dev, seed: 5 });
    lm = { model: model.eval(), tokenizer };
  });
  after(() => dev.close());

  it('δ = 0 changes nothing; δ > 0 shows in the z-score; logprobs stay the model\'s own', async () => {
    const opts = { seed: 3, maxTokens: 100, temperature: 1, stopAtEndOfText: false };
    const plain = await generate(lm, 'The', opts);
    const zero = await generate(lm, 'The', { ...opts, watermark: { delta: 0 } });
    assert.deepEqual(zero.completions[0]!.tokens.map((t) => t.id), plain.completions[0]!.tokens.map((t) => t.id));

    const marked = await generate(lm, 'The', { ...opts, watermark: { delta: 4 } });
    const ids = (r: typeof plain): number[] => [r.promptTokens.at(-1)!, ...r.completions[0]!.tokens.map((t) => t.id)];
    const zMarked = detectWatermark(ids(marked)).z;
    const zPlain = detectWatermark(ids(plain)).z;
    assert.ok(zMarked > 4, `watermarked z ${zMarked}`);
    assert.ok(zPlain < 4, `unwatermarked z ${zPlain}`);
    // A different key does not see the watermark.
    assert.ok(detectWatermark(ids(marked), { key: 99 }).z < 4);

    const c = marked.completions[0]!;
    const scored = scoreIds(lm, [...marked.promptTokens, ...c.tokens.map((t) => t.id)], 0);
    c.tokens.forEach((t, i) => assert.ok(Math.abs(scored[marked.promptTokens.length + i]!.logprob - t.logprob) < 1e-4));
    for (const t of c.tokens) assert.ok(t.entropy >= 0 && t.entropy <= Math.log(lm.model.config.vocabSize) + 1e-9);
  });
});
