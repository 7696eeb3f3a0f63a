// Bits per byte on cases computed by hand: a model whose weights are all zero predicts every token
// with probability 1/V, so each prediction costs ln V nats, and a text's bits per byte is
// (predictions · log2 V) / (its UTF-8 bytes). With one byte per token that is log2 V; with a merge
// that halves the tokens it is half that.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultDevice, init } from '../backend/registry.ts';
import type { Document } from '../data/corpus.ts';
import { documentStart } from '../generate/generate.ts';
import { loadLanguageModel } from '../io/model-folder.ts';
import { writeTinyLlamaFolder } from '../io/testing/tiny-llama.ts';
import { Gpt, defaultGptConfig } from '../models/gpt.ts';
import { Llama } from '../models/llama.ts';
import { ByteLevelTokenizer } from '../tokenizer/tokenizer.ts';
import { presets } from '../train/presets.ts';
import { bitsPerByte, scoreDocuments } from './corpus-loss.ts';

/** The 256 single bytes (id = byte), optionally "aa" (id 256), then <|endoftext|>. */
function byteTokenizer(mergeAa: boolean): ByteLevelTokenizer {
  const vocab: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  const a = 'a'.charCodeAt(0);
  if (mergeAa) vocab.push(Uint8Array.of(a, a));
  return new ByteLevelTokenizer({ vocab, merges: mergeAa ? [[a, a]] : [], specialTokens: [{ id: vocab.length, content: '<|endoftext|>' }] });
}

async function* docs(...texts: string[]): AsyncGenerator<Document> {
  for (const [i, text] of texts.entries()) yield { id: String(i), text, source: 'test' };
}

/** A model of the given architecture with every parameter zero: uniform next-token probabilities. */
function uniformModel(arch: 'gpt2' | 'llama', vocabSize: number, context: number): Gpt | Llama {
  const model =
    arch === 'llama'
      ? new Llama({ ...presets['tiny-llama'].model, vocabSize, maxPositionEmbeddings: context })
      : new Gpt(defaultGptConfig({ vocabSize, nPositions: context, nEmbd: 16, nLayer: 1, nHead: 2, embdPdrop: 0, residPdrop: 0, attnPdrop: 0 }));
  for (const p of model.parameters()) p.set(new Float32Array(p.size));
  return model.eval();
}

describe('bits per byte', () => {
  before(async () => {
    await init({ backend: 'ref' });
  });
  after(async () => {
    await defaultDevice().close();
  });

  it('is nats / (bytes · ln 2)', () => {
    assert.equal(bitsPerByte(12 * Math.LN2, 4), 3);
    assert.equal(bitsPerByte(0, 10), 0);
    assert.throws(() => bitsPerByte(1, 0), /at least one byte, got 0/);
  });

  for (const arch of ['gpt2', 'llama'] as const) {
    it(`${arch}: one token per byte costs log2 V bits per byte, across context windows and documents`, async () => {
      const tokenizer = byteTokenizer(false);
      const V = tokenizer.vocabSize; // 257
      // "naïve café" is 10 characters but 12 UTF-8 bytes (ï and é take two): 12 predictions.
      // With a context of 4 its 12 predictions fill 3 windows; "xy" adds 2 more in a second document.
      const r = await scoreDocuments({ model: uniformModel(arch, V, 4), tokenizer }, docs('naïve café', 'xy'));
      assert.equal(r.tokens, 14);
      assert.equal(r.bytes, 14);
      assert.equal(r.documents, 2);
      assert.ok(Math.abs(r.loss - Math.log(V)) < 1e-5, `loss ${r.loss} vs ln ${V}`);
      assert.ok(Math.abs(r.bitsPerByte - Math.log2(V)) < 1e-5, `bits/byte ${r.bitsPerByte} vs log2 ${V} = ${Math.log2(V)}`);
      assert.ok(Math.abs(r.perplexity - V) < 1e-2);
    });
  }

  it('a merge that halves the tokens halves the bits per byte, while the loss per token stays ln V', async () => {
    const tokenizer = byteTokenizer(true);
    const V = tokenizer.vocabSize; // 258
    assert.deepEqual(tokenizer.encode('aaaa'), [256, 256]);
    const r = await scoreDocuments({ model: uniformModel('gpt2', V, 8), tokenizer }, docs('aaaa'));
    assert.equal(r.tokens, 2);
    assert.equal(r.bytes, 4);
    // 2 · ln 258 nats over 4 bytes: (2 · log2 258) / 4 = 4.0056 bits per byte.
    assert.ok(Math.abs(r.bitsPerByte - Math.log2(V) / 2) < 1e-5, `bits/byte ${r.bitsPerByte}`);
    assert.ok(Math.abs(r.loss - Math.log(V)) < 1e-5);
  });

  it('stops after the window that reaches maxTokens and counts only the bytes it scored', async () => {
    const tokenizer = byteTokenizer(false);
    const r = await scoreDocuments({ model: uniformModel('gpt2', tokenizer.vocabSize, 4), tokenizer }, docs('abcdefghijkl', 'never read'), { maxTokens: 5 });
    // Windows of 4: the second one crosses 5, so 8 predictions of the bytes "abcdefgh".
    assert.equal(r.tokens, 8);
    assert.equal(r.bytes, 8);
    assert.equal(r.documents, 1);
  });

  it('a tokenizer that adds BOS starts each document at BOS: every byte is still predicted once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-corpus-loss-'));
    try {
      const { tokenizer } = await loadLanguageModel(await writeTinyLlamaFolder(dir));
      assert.deepEqual(documentStart(tokenizer), [1], "the tiny Llama tokenizer's BOS, <s>");
      assert.deepEqual(documentStart(byteTokenizer(false)), [256], 'no BOS: the end-of-text token');
      const r = await scoreDocuments({ model: uniformModel('llama', tokenizer.vocabSize, 8), tokenizer }, docs('the cat', 'sat'));
      // BOS + 7 characters predicts 7 tokens, BOS + 3 predicts 3: one per byte, each ln 48 nats.
      assert.equal(r.tokens, 10);
      assert.equal(r.bytes, 10);
      assert.ok(Math.abs(r.bitsPerByte - Math.log2(48)) < 1e-5, `bits/byte ${r.bitsPerByte}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
