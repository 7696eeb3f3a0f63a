// int8 decoding (--precision int8) of a trained model against fp32, on the wasm and native
// backends: the tiny GPT after 250 training steps on five State of the Union addresses, scored on
// three addresses it never saw. Stated tolerances (measured on this machine: perplexity ratio
// 0.9998, mean KL 1.3e-5 nats, max |Δ logit| 0.03):
//   - perplexity on the held-out text within 1% of fp32 (the quality bar);
//   - logits of a 100-token window: mean KL(fp32 ‖ int8) per position ≤ 1e-3 nats, every logit
//     within 0.1 of fp32, the same argmax at every position;
//   - greedy decoding with the KV cache equals full recomputation under int8 (same ids; logits of
//     each step within 1e-4), and gives fp32's greedy ids.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scoreDocuments } from '../account/corpus-loss.ts';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { nativeStatus } from '../backend/native/native-addon.ts';
import { createDevice, type Precision } from '../backend/registry.ts';
import type { Document } from '../data/corpus.ts';
import { loadModel, saveModel, type LoadedModel } from '../io/model-folder.ts';
import { packsMade } from '../nn/packed-weights.ts';
import { sotuTexts } from '../serve/testing/fixtures.ts';
import { makeTrainedTinyModel } from '../serve/testing/trained-model.ts';
import { empty } from '../tensor/tensor.ts';

const backends = ['wasm', ...(nativeStatus().available ? (['native'] as const) : [])] as const;
/** Addresses 6 to 8: the model and its tokenizer were trained on the first five. */
const heldOut = sotuTexts(8).slice(5);

async function* documents(): AsyncGenerator<Document> {
  for (const [i, text] of heldOut.entries()) yield { id: String(i), text, source: 'sotu-held-out' };
}

/** Log-softmax of each row of V logits. */
function logSoftmax(logits: Float32Array, V: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length / V; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    let m = -Infinity;
    for (const v of row) m = Math.max(m, v);
    let s = 0;
    for (const v of row) s += Math.exp(v - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < V; j++) out[r * V + j] = row[j]! - lse;
  }
  return out;
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
  return best;
}

/** Greedy ids after the prompt, with the KV cache, and each step's logits. */
function greedyCached(lm: LoadedModel, prompt: number[], steps: number): { ids: number[]; logits: Float32Array[] } {
  const { model } = lm;
  const dev = model.device;
  const V = model.config.vocabSize;
  const cache = model.createCache(1, prompt.length + steps);
  const ids: number[] = [];
  const logits: Float32Array[] = [];
  let input = prompt;
  noGrad(() => {
    for (let i = 0; i < steps; i++) {
      const all = model.forward(empty(dev, [1, input.length], 'int32').set(input), null, cache).logits.toArray() as Float32Array;
      const last = all.slice(all.length - V);
      logits.push(last);
      ids.push(argmax(last));
      input = [ids.at(-1)!];
    }
  });
  cache.free();
  return { ids, logits };
}

describe('int8 decoding of a trained tiny model, against fp32', () => {
  let root: string;
  let dir: string;
  before(async () => {
    const tiny = await makeTrainedTinyModel();
    root = await mkdtemp(path.join(os.tmpdir(), 'genlab-int8-'));
    dir = path.join(root, 'trained');
    await saveModel(dir, tiny.lm);
    await tiny.cleanup();
  });
  after(() => rm(root, { recursive: true, force: true }));

  for (const backend of backends) {
    describe(`on ${backend}`, () => {
      const devices = new Map<Precision, Device>();
      const models = new Map<Precision, LoadedModel>();
      before(async () => {
        for (const precision of ['fp32', 'int8'] as const) {
          const dev = await createDevice({ backend, threads: 1, precision });
          devices.set(precision, dev);
          models.set(precision, await loadModel(dir, { device: dev }));
        }
      });
      after(async () => {
        for (const dev of devices.values()) await dev.close();
      });

      it('perplexity on held-out text is within 1% of fp32', async () => {
        const fp32 = await scoreDocuments(models.get('fp32')!, documents());
        const made = packsMade;
        const int8 = await scoreDocuments(models.get('int8')!, documents());
        assert.ok(packsMade > made, 'scoring under int8 packed the weights');
        assert.equal(int8.tokens, fp32.tokens);
        const ratio = int8.perplexity / fp32.perplexity;
        assert.ok(Math.abs(ratio - 1) < 0.01, `int8 perplexity ${int8.perplexity} vs fp32 ${fp32.perplexity} over ${fp32.tokens} tokens (ratio ${ratio})`);
        assert.notEqual(int8.nats, fp32.nats, 'the int8 weights are not the fp32 ones');
      });

      it('logits are close to fp32: mean KL ≤ 1e-3, |Δ logit| ≤ 0.1, the same argmax', () => {
        const fp32 = models.get('fp32')!;
        const ids = fp32.tokenizer.encode(heldOut[0]!).slice(0, 100);
        const V = fp32.model.config.vocabSize;
        const logits = (lm: LoadedModel): Float32Array => noGrad(() => lm.model.forward(empty(lm.model.device, [1, ids.length], 'int32').set(ids)).logits.toArray() as Float32Array);
        const a = logits(fp32);
        const b = logits(models.get('int8')!);
        const la = logSoftmax(a, V);
        const lb = logSoftmax(b, V);
        let kl = 0;
        let worst = 0;
        for (let i = 0; i < a.length; i++) {
          kl += Math.exp(la[i]!) * (la[i]! - lb[i]!);
          worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        }
        kl /= ids.length;
        assert.ok(kl <= 1e-3, `mean KL(fp32 ‖ int8) ${kl} nats per position`);
        assert.ok(worst > 0 && worst <= 0.1, `largest |Δ logit| ${worst}`);
        for (let t = 0; t < ids.length; t++) assert.equal(argmax(b.subarray(t * V, (t + 1) * V)), argmax(a.subarray(t * V, (t + 1) * V)), `argmax at position ${t}`);
      });

      it('greedy decoding with the KV cache equals full recomputation under int8, and gives fp32 ids', () => {
        const int8 = models.get('int8')!;
        const prompt = int8.tokenizer.encode(heldOut[1]!).slice(0, 8);
        const steps = 32;
        const cached = greedyCached(int8, prompt, steps);
        const V = int8.model.config.vocabSize;
        const dev = int8.model.device;
        const seq = [...prompt];
        for (let i = 0; i < steps; i++) {
          const full = noGrad(() => int8.model.forward(empty(dev, [1, seq.length], 'int32').set(seq)).logits.toArray() as Float32Array);
          const last = full.subarray(full.length - V);
          assert.equal(argmax(last), cached.ids[i], `step ${i}: the same greedy id`);
          for (let j = 0; j < V; j++) assert.ok(Math.abs(last[j]! - cached.logits[i]![j]!) <= 1e-4 * (1 + Math.abs(last[j]!)), `step ${i}, logit ${j}: full ${last[j]} vs cached ${cached.logits[i]![j]}`);
          seq.push(cached.ids[i]!);
        }
        assert.deepEqual(cached.ids, greedyCached(models.get('fp32')!, prompt, steps).ids, "int8's greedy continuation is fp32's");
      });
    });
  }
});
