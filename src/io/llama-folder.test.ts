// A Llama-family folder (a random-weight PyTorch fixture plus a 48-id character tokenizer) loads by
// path and as `hf:` from the fake Hub through loadLanguageModel, which dispatches on config.json's
// model_type; prompts get the tokenizer's BOS; greedy decoding with the KV cache picks the argmax
// of a full forward pass at every step; `genlab generate --model DIR` and `genlab serve` run on it.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../autograd/tape.ts';
import { defaultDevice, init } from '../backend/registry.ts';
import { generate, promptIds, scoreText } from '../generate/generate.ts';
import { Llama } from '../models/llama.ts';
import { serveCommand } from '../serve/index.ts';
import { runCli } from '../testing/run-cli.ts';
import { assertClose } from '../models/testing/assert-close.ts';
import { empty } from '../tensor/tensor.ts';
import { loadLanguageModel, loadModel, type LoadedLlama } from './model-folder.ts';
import { openSafetensors } from './safetensors.ts';
import { fakeCommit, folderFiles, startFakeHub } from './testing/fake-hub.ts';
import { writeTinyLlamaFolder } from './testing/tiny-llama.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = path.join(ROOT, 'src/models/fixtures/llama-smollm2');

describe('Llama-family model folders', () => {
  let tmp: string;
  let dir: string;
  let lm: LoadedLlama;

  before(async () => {
    await init({ backend: 'ref' });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-llama-folder-'));
    dir = await writeTinyLlamaFolder(path.join(tmp, 'tiny-llama'));
    lm = (await loadLanguageModel(dir)) as LoadedLlama;
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
    await defaultDevice().close();
  });

  it('loads by path as a Llama whose logits match PyTorch', () => {
    assert.ok(lm.model instanceof Llama);
    assert.equal(lm.config.modelType, 'llama');
    assert.equal(lm.model.contextLength, 8192);
    const expected = openSafetensors(path.join(FIXTURE, 'expected.safetensors'));
    const ids = expected.readI32('ids'); // (2, 12)
    const logits = noGrad(() => lm.model.forward(empty(lm.model.device, [2, 12], 'int32').set(ids)).logits.toArray());
    assertClose('logits', logits, expected.readF32('logits'), 1e-4, 1e-5);
  });

  it('loadModel (GPT-2 only) refuses it, naming what does load it', async () => {
    await assert.rejects(loadModel(dir), /is a llama model; every genlab command but `reward train` takes it, and that one needs a GPT-2 folder/);
  });

  it('prompts and scored text start with BOS (add_bos_token)', () => {
    assert.deepEqual(promptIds(lm.tokenizer, 'hi'), [1, 11, 12]);
    const scored = scoreText(lm, 'hi');
    assert.deepEqual(scored.map((t) => t.text), ['h', 'i']);
    const logits = noGrad(() => lm.model.forward(empty(lm.model.device, [1, 3], 'int32').set([1, 11, 12])).logits.toArray());
    const row = Array.from(logits.subarray(0, 48));
    const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
    assert.ok(Math.abs(scored[0]!.logprob - (row[11]! - lse)) < 1e-4, 'the first token is scored after BOS');
  });

  it('greedy generation with the KV cache picks the argmax of a full forward pass at every step', async () => {
    const r = await generate(lm, 'the cat', { maxTokens: 10, temperature: 0, stopAtEndOfText: false });
    const ids = [...r.promptTokens];
    assert.equal(ids[0], 1);
    for (const t of r.completions[0]!.tokens) {
      const logits = noGrad(() => lm.model.forward(empty(lm.model.device, [1, ids.length], 'int32').set(ids)).logits.toArray());
      const last = logits.subarray((ids.length - 1) * 48, ids.length * 48);
      let best = 0;
      for (let i = 1; i < 48; i++) if (last[i]! > last[best]!) best = i;
      assert.equal(t.id, best);
      ids.push(t.id);
    }
    assert.equal(r.completions[0]!.tokens.length, 10);
  });

  it('loads as hf:ORG/NAME from the Hub and generates the same text', async () => {
    const commit = fakeCommit('tiny-llama');
    const hub = await startFakeHub([{ id: 'test/tiny-llama', commits: { [commit]: await folderFiles(dir) }, refs: { main: commit } }]);
    try {
      const fromHub = await loadLanguageModel('hf:test/tiny-llama', { hub: { endpoint: hub.endpoint, cacheDir: path.join(tmp, 'hf-cache'), token: null, progress: false } });
      assert.ok(fromHub.model instanceof Llama);
      assert.equal(fromHub.hub?.repoId, 'test/tiny-llama');
      const opts = { maxTokens: 8, temperature: 0 };
      assert.deepEqual((await generate(fromHub, 'abc', opts)).completions[0]!.text, (await generate(lm, 'abc', opts)).completions[0]!.text);
    } finally {
      await hub.close();
    }
  });

  it('genlab serve --model DIR serves it with its context and vocabulary, and completes text', async () => {
    const running = await serveCommand({ model: dir, port: 0, webRoot: null, db: ':memory:' });
    try {
      const models = (await (await fetch(`${running.url}/v1/models`)).json()) as { data: Array<{ id: string; context_length: number; vocab_size: number }> };
      assert.deepEqual(models.data.map((m) => [m.id, m.context_length, m.vocab_size]), [['tiny-llama', 8192, 48]]);
      const res = await fetch(`${running.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-llama', prompt: 'abc', max_tokens: 5, temperature: 0 }) });
      assert.equal(res.status, 200);
      const r = (await res.json()) as { choices: Array<{ text: string }>; usage: { prompt_tokens: number } };
      assert.equal(r.choices[0]!.text, (await generate(lm, 'abc', { maxTokens: 5, temperature: 0 })).completions[0]!.text);
      assert.equal(r.usage.prompt_tokens, 4, 'BOS + 3 characters');
    } finally {
      await running.close();
    }
  });

  it('genlab generate --model DIR generates from a Llama folder', async () => {
    const want = (await generate(lm, 'abc', { maxTokens: 6, temperature: 0 })).completions[0]!.text;
    const r = await runCli(['generate', '--model', dir, '--prompt', 'abc', '--max-tokens', '6', '--temperature', '0', '--backend', 'ref']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `abc${want}\n`);
  });
});
