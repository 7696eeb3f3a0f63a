import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { defaultGptConfig, Gpt } from '../models/gpt.ts';
import { empty } from '../tensor/tensor.ts';
import { trainBpe } from '../tokenizer/train.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { generate, generateStream, scoreIds, scoreText, type LanguageModel } from './generate.ts';

const sotu = path.join('node_modules', '@stdlib', 'datasets-sotu', 'data');

describe('generation and scoring', () => {
  let dev: Device;
  let lm: LanguageModel;
  let tokenizer: Tokenizer;
  before(async () => {
    dev = await createDevice({ backend: 'wasm', threads: 2 });
    const files = readdirSync(sotu).filter((f) => f.endsWith('.txt')).slice(0, 4);
    tokenizer = await trainBpe(files.map((f) => readFileSync(path.join(sotu, f), 'utf8')), { vocabSize: 400 });
    const model = new Gpt(defaultGptConfig({ vocabSize: tokenizer.vocabSize, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 2 }), { device: dev, seed: 3 });
    // Larger weights than the default init make the random model's distribution far from uniform.
    for (const p of model.parameters()) if (p.ndim === 2) p.set(Array.from(p.toArray(), (v) => v * 8));
    lm = { model: model.eval(), tokenizer };
  });
  after(() => dev.close());

  it('greedy generation picks the argmax of the full forward pass at every step', async () => {
    // Strong position embeddings keep this random model from repeating one token, so a decoding
    // step with the wrong position or without the cached keys would pick a different token.
    const model = new Gpt(defaultGptConfig({ vocabSize: tokenizer.vocabSize, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 2 }), { device: dev, seed: 3 });
    for (const [name, p] of model.namedParameters()) if (p.ndim === 2) p.set(Array.from(p.toArray(), (v) => v * (name.startsWith('wpe.') ? 64 : 8)));
    const r = await generate({ model: model.eval(), tokenizer }, 'The state of the Union', { temperature: 0, maxTokens: 20, stopAtEndOfText: false });
    const prompt = r.promptTokens;
    const ids = [...prompt, ...r.completions[0]!.tokens.map((t) => t.id)];
    assert.equal(ids.length, prompt.length + 20);
    assert.ok(new Set(ids.slice(prompt.length)).size >= 8, `greedy repeats itself (${ids.slice(prompt.length).join(' ')}): the check below would be weak`);
    // One forward pass over the whole sequence, without the KV cache generation decodes with.
    const V = model.config.vocabSize;
    const logits = dev.scope(() => noGrad(() => model.forward(empty(dev, [1, ids.length], 'int32').set(ids)).logits.toArray()));
    for (let i = prompt.length; i < ids.length; i++) {
      const row = logits.subarray((i - 1) * V, i * V);
      let argmax = 0;
      for (let v = 1; v < V; v++) if (row[v]! > row[argmax]!) argmax = v;
      assert.equal(ids[i], argmax, `step ${i - prompt.length}: greedy picked ${ids[i]}, the full forward pass's argmax is ${argmax}`);
    }
  });

  it('generated logprobs equal the scores of the same ids', async () => {
    const prompt = [tokenizer.eotId!, ...tokenizer.encode('Fellow citizens')];
    const r = await generate(lm, prompt, { seed: 7, maxTokens: 12, stopAtEndOfText: false, logprobs: 3 });
    const c = r.completions[0]!;
    const scored = scoreIds(lm, [...prompt, ...c.tokens.map((t) => t.id)], 3);
    c.tokens.forEach((t, i) => {
      const s = scored[prompt.length + i]!;
      assert.ok(Math.abs(s.logprob - t.logprob) < 1e-4, `token ${i}: generated logprob ${t.logprob}, scored ${s.logprob}`);
      assert.deepEqual(s.top.map((x) => x.id), t.top.map((x) => x.id));
    });
  });

  it('the same seed reproduces; n completions; streaming equals the collected result', async () => {
    const opts = { seed: 11, maxTokens: 16, n: 3, temperature: 1, topK: 20, stopAtEndOfText: false };
    const a = await generate(lm, 'We', opts);
    const b = await generate(lm, 'We', opts);
    assert.deepEqual(a, b);
    assert.equal(a.completions.length, 3);
    assert.notEqual(a.completions[0]!.text, a.completions[1]!.text);
    const texts = ['', '', ''];
    for await (const ev of generateStream(lm, 'We', opts)) texts[ev.index] += ev.text;
    assert.deepEqual(texts, a.completions.map((c) => c.text));
  });

  it('stop sequences end the text before the stop string, even across tokens', async () => {
    const free = await generate(lm, 'The', { seed: 5, maxTokens: 30, stopAtEndOfText: false });
    const text = free.completions[0]!.text;
    assert.ok(text.length > 6, 'needs some text to cut');
    const stop = text.slice(3, 6);
    const cut = await generate(lm, 'The', { seed: 5, maxTokens: 30, stopAtEndOfText: false, stop: [stop] });
    assert.equal(cut.completions[0]!.finishReason, 'stop');
    assert.equal(cut.completions[0]!.text, text.slice(0, text.indexOf(stop)));
    let streamed = '';
    for await (const ev of generateStream(lm, 'The', { seed: 5, maxTokens: 30, stopAtEndOfText: false, stop: [stop] })) streamed += ev.text;
    assert.equal(streamed, cut.completions[0]!.text);
  });

  it('top-k 1 equals greedy; topP tiny equals greedy', async () => {
    const greedy = await generate(lm, 'In', { temperature: 0, maxTokens: 8, stopAtEndOfText: false });
    const k1 = await generate(lm, 'In', { seed: 3, topK: 1, maxTokens: 8, stopAtEndOfText: false });
    const p0 = await generate(lm, 'In', { seed: 3, topP: 1e-6, maxTokens: 8, stopAtEndOfText: false });
    assert.equal(k1.completions[0]!.text, greedy.completions[0]!.text);
    assert.equal(p0.completions[0]!.text, greedy.completions[0]!.text);
  });

  it('scores cover the text exactly, with probabilities that are distributions', () => {
    const text = 'Mr. Speaker, the Union is strong. 🎉';
    const s = scoreText(lm, text, 5);
    assert.equal(s.map((t) => t.text).join(''), text);
    for (const t of s) {
      assert.ok(t.logprob <= 0);
      assert.equal(t.top.length, 5);
      assert.ok(t.top[0]!.logprob >= t.logprob - 1e-9);
      for (let i = 1; i < t.top.length; i++) assert.ok(t.top[i - 1]!.logprob >= t.top[i]!.logprob);
    }
  });

  it('rejects bad options and over-long prompts with clear errors', async () => {
    await assert.rejects(generate(lm, 'x', { temperature: -1 }), /temperature must be a finite number >= 0/);
    await assert.rejects(generate(lm, 'x', { topP: 0 }), /topP must be in \(0, 1\]/);
    await assert.rejects(generate(lm, 'x', { maxTokens: 0 }), /maxTokens must be a positive integer/);
    await assert.rejects(generate(lm, 'word '.repeat(80), { maxTokens: 4 }), /exceeds the model's context of 64 tokens/);
  });
});
