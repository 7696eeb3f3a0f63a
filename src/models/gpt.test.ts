// genlab's GPT against the PyTorch oracle (scripts/make-gpt-fixture.py wrote the fixture from
// the same safetensors weights): logits, loss, gradients and three AdamW steps, on every backend.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backward, noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { testDevices } from '../backend/test-devices.ts';
import { loadGptWeights } from '../io/gpt-weights.ts';
import { readGpt2Config } from '../io/hf-config.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { AdamW } from '../optim/adamw.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { Gpt } from './gpt.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'gpt-tiny');
const expected = openSafetensors(path.join(dir, 'expected.safetensors'));
const config = readGpt2Config(dir);

function assertClose(label: string, actual: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  assert.equal(actual.length, want.length, `${label}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(actual[i]! - want[i]!) / (atol + rtol * Math.abs(want[i]!));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(worst <= 1, `${label}: element ${at} is ${actual[at]}, PyTorch has ${want[at]} (error ${worst.toFixed(2)}× tolerance)`);
}

for (const td of testDevices) {
  describe(`GPT vs PyTorch fixture on ${td.name}`, () => {
    let dev: Device;
    let ids: Tensor;
    let targets: Tensor;
    const load = (): Gpt => {
      const model = new Gpt(config, { device: dev });
      loadGptWeights(model, path.join(dir, 'model.safetensors'));
      return model;
    };
    before(async () => {
      dev = await td.make();
      ids = empty(dev, [2, 12], 'int32').set(expected.readI32('ids'));
      targets = empty(dev, [2, 12], 'int32').set(expected.readI32('targets'));
    });
    after(() => dev.close());

    it('logits and loss', () => {
      const model = load();
      const { logits, loss } = noGrad(() => model.forward(ids, targets));
      assertClose('logits', logits.toArray(), expected.readF32('logits'), 1e-4, 1e-5);
      assertClose('loss', [loss!.item()], expected.readF32('loss'), 1e-5, 1e-6);
    });

    it('gradients', () => {
      const model = load();
      const { loss } = model.forward(ids, targets);
      backward(loss!);
      const params = model.stateDict();
      for (const name of expected.names.filter((n) => n.startsWith('grad.'))) {
        const p = params.get(name.slice(5))!;
        assertClose(name, p.grad!.toArray(), expected.readF32(name), 1e-3, 1e-6);
      }
    });

    it('three AdamW steps', () => {
      const model = load();
      const adam = JSON.parse(expected.metadata['adam']!) as { lr: number; betas: [number, number]; eps: number; weight_decay: number };
      const opt = new AdamW(model.parameters(), { lr: adam.lr, beta1: adam.betas[0], beta2: adam.betas[1], eps: adam.eps, weightDecay: adam.weight_decay });
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        opt.zeroGrad();
        const l = dev.scope(() => {
          const { loss } = model.forward(ids, targets);
          backward(loss!);
          return loss!.item();
        });
        opt.update();
        losses.push(l);
      }
      assertClose('adam losses', losses, expected.readF32('adam.losses'), 1e-4, 1e-5);
      const params = model.stateDict();
      for (const name of expected.names.filter((n) => n.startsWith('adam.') && n !== 'adam.losses')) {
        assertClose(name, params.get(name.slice(5))!.toArray(), expected.readF32(name), 1e-3, 1e-5);
      }
    });

    it('KV-cache decoding equals full recomputation', () => {
      const model = load().eval();
      const full = noGrad(() => model.forward(ids).logits.toArray());
      const cache = model.createCache(2, 12);
      const V = config.vocabSize;
      const idv = ids.toArray();
      noGrad(() => {
        // A 5-token prefill, then one token at a time.
        const chunks = [[0, 5], ...Array.from({ length: 7 }, (_, i) => [5 + i, 6 + i])] as const;
        for (const [s, e] of chunks) {
          const part = empty(dev, [2, e - s], 'int32');
          const pv: number[] = [];
          for (let b = 0; b < 2; b++) for (let t = s; t < e; t++) pv.push(idv[b * 12 + t]!);
          part.set(pv);
          const lg = model.forward(part, null, cache).logits.toArray();
          for (let b = 0; b < 2; b++) {
            for (let t = s; t < e; t++) {
              const got = lg.subarray((b * (e - s) + t - s) * V, (b * (e - s) + t - s + 1) * V);
              const want = full.subarray((b * 12 + t) * V, (b * 12 + t + 1) * V);
              assertClose(`cached logits b${b} t${t}`, got, want, 1e-5, 1e-5);
            }
          }
        }
      });
      assert.equal(cache.length, 12);
    });
  });
}
