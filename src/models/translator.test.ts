// The encoder–decoder on every backend: gradients through cross-attention (finite differences),
// incremental decoding with the KV cache against the full forward pass, the batch layout
// (bucketed sources, targets padded with ignored positions) against one-by-one losses, beam
// reordering of the cache, and the model folder round trip.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gradcheck } from '../autograd/gradcheck.ts';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { Rng } from '../backend/rng.ts';
import { testDevices } from '../backend/testing/devices.ts';
import { randn } from '../tensor/create.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { loadTranslator, saveTranslator } from '../translate/folder.ts';
import { defaultTranslatorConfig, sinusoidalTable, Translator, type TranslatorConfig } from './translator.ts';
import { makeBatches, type EncodedPair } from '../translate/train.ts';

const V = 13;
const EOS = 12;

function tinyConfig(overrides: Partial<TranslatorConfig> = {}): TranslatorConfig {
  return defaultTranslatorConfig({ vocabSize: V, eosTokenId: EOS, nPositions: 12, nEmbd: 8, nHead: 2, nEncoderLayer: 1, nDecoderLayer: 2, nInner: 16, dropout: 0, ...overrides });
}

const ids = (dev: Device, rows: number[][]): Tensor => empty(dev, [rows.length, rows[0]!.length], 'int32').set(rows.flat());

function param(model: Translator, name: string): Tensor {
  const t = model.stateDict().get(name);
  if (!t) throw new Error(`no parameter ${name}; have ${[...model.stateDict().keys()].join(', ')}`);
  return t;
}

/**
 * Weights of std 0.5 instead of the training init: the init keeps residual branches (and so the
 * cross-attention's effect) so small that finite differences could not tell a broken gradient
 * from a right one.
 */
function loud(model: Translator): Translator {
  const rng = new Rng(42);
  for (const [name, t] of model.namedParameters()) {
    const base = /layer_norm\.weight$/.test(name) ? 1 : 0;
    t.set(Float32Array.from({ length: t.size }, () => base + 0.5 * rng.normal()));
  }
  return model;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

it('sinusoidal positions are the paper’s sin/cos table', () => {
  const t = sinusoidalTable(3, 4);
  assert.deepEqual(Array.from(t.slice(0, 4)), [0, 1, 0, 1]);
  assert.ok(Math.abs(t[4]! - Math.sin(1)) < 1e-7 && Math.abs(t[5]! - Math.cos(1)) < 1e-7);
  assert.ok(Math.abs(t[6]! - Math.sin(1 / 100)) < 1e-7, 'dimension 2 of 4 has wavelength 10000^(2/4)');
});

for (const td of testDevices) {
  describe(`translator on ${td.name}`, () => {
    let dev: Device;
    before(async () => {
      dev = await td.make();
    });
    after(() => dev.close());

    it('cross-attention gradients match finite differences (memory, its projections, the encoder behind it)', () => {
      const model = loud(new Translator(tinyConfig(), { device: dev, seed: 3 }).eval());
      const tgtIn = ids(dev, [[EOS, 3, 4, 5], [EOS, 6, 7, 8]]);
      // Memory as an input: the gradient reaching the encoder output passes only through cross-attention.
      const memory = randn([2, 5, 8], { device: dev, rng: 5, requiresGrad: true });
      const decodeFromMemory = (m: Tensor): Tensor => model.decode(tgtIn, m);
      for (const [what, inputs] of [
        ['encoder memory', [memory]],
        ['kv projection', [param(model, 'decoder.layers.0.encoder_attn.kv_proj.weight')]],
        ['query projection', [param(model, 'decoder.layers.1.encoder_attn.q_proj.weight')]],
      ] as const) {
        const f = what === 'encoder memory' ? decodeFromMemory : () => model.decode(tgtIn, memory);
        const r = gradcheck(f, [...inputs], { maxElements: 24 });
        assert.ok(r.ok, `${what}: ${JSON.stringify(r.worst)}`);
      }
      // The whole model: an encoder weight reaches the loss only through cross-attention.
      const src = ids(dev, [[1, 2, 3, EOS], [4, 5, 6, EOS]]);
      const targets = ids(dev, [[3, 4, 5, EOS], [6, 7, EOS, -100]]);
      for (const name of ['encoder.layers.0.self_attn.qkv.weight', 'shared.weight', 'lm_head.weight']) {
        const r = gradcheck(() => model.forward(src, tgtIn, targets).loss!, [param(model, name)], { maxElements: 24 });
        assert.ok(r.ok, `${name}: ${JSON.stringify(r.worst)}`);
      }
    });

    it('learned positions and a tied output projection get gradients too', () => {
      // With the output projection tied to the embedding, as the paper (the default has its own).
      const model = loud(new Translator(tinyConfig({ positions: 'learned', tieWordEmbeddings: true }), { device: dev, seed: 4 }).eval());
      const src = ids(dev, [[1, 2, EOS]]);
      const tgtIn = ids(dev, [[EOS, 5, 6]]);
      const targets = ids(dev, [[5, 6, EOS]]);
      assert.equal(model.lmHead, null);
      for (const name of ['encoder.embed_positions.weight', 'decoder.embed_positions.weight', 'shared.weight']) {
        const r = gradcheck(() => model.forward(src, tgtIn, targets).loss!, [param(model, name)], { maxElements: 24 });
        assert.ok(r.ok, `${name}: ${JSON.stringify(r.worst)}`);
      }
    });

    it('incremental decoding with the cache gives the full forward pass’s logits', () => {
      const model = loud(new Translator(tinyConfig(), { device: dev, seed: 7 }).eval());
      const src = ids(dev, [[1, 2, 3, 4, EOS], [5, 6, 7, 8, EOS]]);
      const tgt = [[EOS, 9, 10, 11, 2], [EOS, 3, 3, 4, 1]];
      const full = noGrad(() => model.decode(ids(dev, tgt), model.encode(src)).toArray());
      const cache = noGrad(() => model.startDecoding(model.encode(src), 2, 8));
      const steps: number[][] = [[], []];
      for (let t = 0; t < 5; t++) {
        const step = noGrad(() => model.decode(ids(dev, [[tgt[0]![t]!], [tgt[1]![t]!]]), null, cache).toArray());
        for (let b = 0; b < 2; b++) steps[b]!.push(...step.slice(b * V, (b + 1) * V));
      }
      assert.ok(maxDiff([...steps[0]!, ...steps[1]!], full) < 1e-4, `max difference ${maxDiff([...steps[0]!, ...steps[1]!], full)}`);
    });

    it('reordering the cache makes a row continue another row’s hypothesis', () => {
      const model = loud(new Translator(tinyConfig(), { device: dev, seed: 8 }).eval());
      const memory = noGrad(() => model.encode(ids(dev, [[1, 2, 3, EOS]])));
      const cache = noGrad(() => model.startDecoding(memory, 2, 6));
      noGrad(() => model.decode(ids(dev, [[EOS], [EOS]]), null, cache));
      noGrad(() => model.decode(ids(dev, [[4], [9]]), null, cache));
      cache.reorder(Int32Array.from([1, 1]));
      const next = noGrad(() => model.decode(ids(dev, [[5], [5]]), null, cache).toArray());
      const direct = noGrad(() => model.decode(ids(dev, [[EOS, 9, 5]]), memory).toArray());
      assert.ok(maxDiff(next.slice(0, V), direct.slice(2 * V)) < 1e-4, 'row 0 now continues [eos, 9]');
      assert.ok(maxDiff(next.slice(V), direct.slice(2 * V)) < 1e-4, 'row 1 still continues [eos, 9]');
    });

    it('a bucketed, padded batch has the loss of its sentences one by one (padding is ignored)', () => {
      const model = loud(new Translator(tinyConfig(), { device: dev, seed: 9 }).eval());
      const pairs: EncodedPair[] = [
        { src: [1, 2, 3, EOS], tgt: [4, 5] },
        { src: [6, 7, 8, EOS], tgt: [9, 10, 11, 1, 2] },
        { src: [3, 3, 3, EOS], tgt: [5] },
      ];
      const batches = makeBatches(pairs, 1000, EOS, null);
      assert.equal(batches.length, 1, 'one source length: one batch');
      const b = batches[0]!;
      assert.equal(b.tt, 6);
      assert.equal(b.tokens, 3 + 6 + 2);
      const batchLoss = noGrad(() => model.forward(empty(dev, [b.b, b.ts], 'int32').set(b.src), empty(dev, [b.b, b.tt], 'int32').set(b.tgtIn), empty(dev, [b.b, b.tt], 'int32').set(b.targets)).loss!.item());
      let sum = 0;
      for (const p of pairs) {
        const l = noGrad(() => model.forward(ids(dev, [p.src]), ids(dev, [[EOS, ...p.tgt]]), ids(dev, [[...p.tgt, EOS]])).loss!.item());
        sum += l * (p.tgt.length + 1);
      }
      assert.ok(Math.abs(batchLoss - sum / b.tokens) < 1e-5, `batch ${batchLoss} vs one by one ${sum / b.tokens}`);
    });
  });
}

describe('batches and the model folder', () => {
  it('batches never mix source lengths and respect the token budget', () => {
    const pairs: EncodedPair[] = [];
    for (let i = 0; i < 60; i++) pairs.push({ src: new Array(2 + (i % 4)).fill(1), tgt: new Array(1 + (i % 7)).fill(2) });
    const batches = makeBatches(pairs, 24, EOS, null);
    let n = 0;
    for (const b of batches) {
      assert.ok(b.b * Math.max(b.ts, b.tt) <= 24 || b.b === 1, `batch of ${b.b} × max(${b.ts}, ${b.tt}) exceeds 24`);
      n += b.b;
    }
    assert.equal(n, 60);
  });

  it('saves and loads a translation folder with identical outputs', async () => {
    const { init } = await import('../backend/registry.ts');
    const dev = await init({ backend: 'ref' });
    const tokenizer = await trainBpe(['one two three', 'eins zwei drei'], { vocabSize: 260 });
    const config = tinyConfig({ vocabSize: tokenizer.vocabSize, eosTokenId: tokenizer.eotId!, sourceLang: 'en', targetLang: 'de' });
    const model = new Translator(config, { device: dev, seed: 2 }).eval();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-translator-'));
    try {
      await saveTranslator(dir, { model, tokenizer }, { runRecord: { kind: 'translation' } });
      const loaded = await loadTranslator(dir);
      assert.deepEqual(loaded.model.config, config);
      assert.equal(loaded.runRecord?.['kind'], 'translation');
      const src = ids(dev, [[1, 2, tokenizer.eotId!]]);
      const tgt = ids(dev, [[tokenizer.eotId!, 3]]);
      assert.deepEqual(noGrad(() => loaded.model.forward(src, tgt).logits.toArray()), noGrad(() => model.forward(src, tgt).logits.toArray()));
      await assert.rejects(loadTranslator(path.join(dir, 'missing')), /does not exist; train one with `genlab train --task translate/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
