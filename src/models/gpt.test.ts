// genlab's GPT against the PyTorch oracle (scripts/make-gpt-fixture.py wrote the fixture from
// the same safetensors weights): logits, loss, gradients and three AdamW steps, on every backend.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backward, noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { nativeStatus } from '../backend/native/native-addon.ts';
import { createDevice } from '../backend/registry.ts';
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

// bf16 decoding: on a device with bf16 matmuls the KV cache holds the weights packed as bf16, and
// decoding steps stream those. They must give the logits the bf16 GEMM gives without packing.
const bf16Devices: { name: string; make: () => Promise<Device> }[] = [
  { name: 'ref', make: () => createDevice({ backend: 'ref', precision: 'bf16' }) },
  { name: 'wasm×2', make: () => createDevice({ backend: 'wasm', threads: 2, precision: 'bf16' }) },
  ...(nativeStatus().available
    ? [
        { name: 'native×1', make: () => createDevice({ backend: 'native', threads: 1, precision: 'bf16' }) },
        { name: 'native×2', make: () => createDevice({ backend: 'native', threads: 2, precision: 'bf16' }) },
      ]
    : []),
];

for (const bd of bf16Devices) {
  describe(`bf16 decoding with packed weights on ${bd.name}`, () => {
    let dev: Device;
    before(async () => {
      dev = await bd.make();
    });
    after(() => dev.close());

    it('packed and unpacked caches decode the same logits, close to full recomputation', () => {
      const model = new Gpt(config, { device: dev });
      loadGptWeights(model, path.join(dir, 'model.safetensors'));
      model.eval();
      const ids = expected.readI32('ids');
      const run = (packWeights: boolean): Float32Array[] => {
        const cache = model.createCache(2, 12, { packWeights });
        assert.equal(cache.packed !== null, packWeights);
        const out: Float32Array[] = [];
        noGrad(() => {
          // A 4-token prefill (the GEMM), then one token per step (packed weights when given).
          for (const [s, e] of [[0, 4], ...Array.from({ length: 8 }, (_, i) => [4 + i, 5 + i])] as const) {
            const part = empty(dev, [2, e - s], 'int32');
            const pv: number[] = [];
            for (let b = 0; b < 2; b++) for (let t = s; t < e; t++) pv.push(ids[b * 12 + t]!);
            part.set(pv);
            out.push(model.forward(part, null, cache).logits.toArray() as Float32Array);
          }
        });
        return out;
      };
      assert.notEqual(model.createCache(1, 4).packed, null, 'a bf16 device packs by default');
      const packed = run(true);
      const plain = run(false);
      for (let i = 0; i < packed.length; i++) assertClose(`step ${i}`, packed[i]!, plain[i]!, 1e-5, 1e-6);
      const full = noGrad(() => model.forward(empty(dev, [2, 12], 'int32').set(ids)).logits.toArray());
      const V = config.vocabSize;
      const last = packed.at(-1)!;
      for (let b = 0; b < 2; b++) assertClose(`last position b${b}`, last.subarray(b * V, (b + 1) * V), full.subarray((b * 12 + 11) * V, (b * 12 + 12) * V), 1e-4, 1e-5);
    });

    it('packed weights refuse to record gradients', () => {
      const model = new Gpt(config, { device: dev });
      const cache = model.createCache(1, 4, { packWeights: true });
      assert.throws(() => model.forward(empty(dev, [1, 1], 'int32').set([1]), null, cache), /packed bf16 weights are for inference/);
    });
  });
}
