// bf16 weight packs: which products use them, that they are cached on the weight, and that every
// way genlab writes a weight (set, checkpoint load, optimizer step, restore, adapter merge) makes
// the next product use a fresh pack — a stale pack would silently serve the old weights.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backward, noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { linear, linearBf16, matmul, packBf16 } from '../ops/matmul.ts';
import { mean } from '../ops/reduce.ts';
import { AdamW } from '../optim/adamw.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { Embedding, Linear } from './layers.ts';
import { LoraAdapter, mergeAdapter } from './lora.ts';
import { Module } from './module.ts';
import { PACKED_MAX_ROWS, packedWeight, packsMade, withoutWeightPacking } from './packed-weights.ts';

class Wrapper extends Module {
  readonly proj: Linear;
  constructor(device: Device) {
    super();
    this.proj = this.module('proj', new Linear(16, 24, { rng: new Rng(1), device }));
  }
}

const devices = [
  { name: 'ref', make: () => createDevice({ backend: 'ref', precision: 'bf16' }) },
  { name: 'wasm×2', make: () => createDevice({ backend: 'wasm', threads: 2, precision: 'bf16' }) },
];

for (const d of devices) {
  describe(`bf16 weight packs on ${d.name}`, () => {
    let dev: Device;
    before(async () => {
      dev = await d.make();
    });
    after(() => dev.close());

    const rng = new Rng(7);
    const rand = (shape: number[]): Tensor => {
      const t = empty(dev, shape);
      return t.set(Array.from({ length: t.size }, () => rng.normal()));
    };
    const setRandom = (t: Tensor): void => {
      t.set(Array.from({ length: t.size }, () => rng.normal()));
    };

    it(`a Linear of at most ${PACKED_MAX_ROWS} rows without gradients multiplies the cached pack; others run the GEMM`, () => {
      const lin = new Linear(16, 24, { rng, device: dev });
      setRandom(lin.bias!);
      const few = rand([2, 4, 16]); // 8 rows
      const many = rand([3, 3, 16]); // 9 rows
      const before = packsMade;
      const y = noGrad(() => lin.forward(few).toArray());
      assert.equal(packsMade - before, 1);
      assert.deepEqual(y, noGrad(() => linearBf16(few, packBf16(lin.weight), lin.bias).toArray()));
      assert.equal(packedWeight(lin.weight), packedWeight(lin.weight), 'the pack is kept on the weight');
      assert.deepEqual(noGrad(() => lin.forward(few).toArray()), y, 'the cached pack gives the same product');
      assert.equal(packsMade - before, 1, 'and is not remade');
      assert.deepEqual(noGrad(() => lin.forward(many).toArray()), noGrad(() => linear(many, lin.weight, lin.bias).toArray()));
      assert.deepEqual(withoutWeightPacking(() => noGrad(() => lin.forward(few).toArray())), noGrad(() => linear(few, lin.weight, lin.bias).toArray()));
      // Recording gradients: the GEMM, whose backward reaches the weight.
      const out = lin.forward(few);
      assert.deepEqual(out.toArray(), noGrad(() => linear(few, lin.weight, lin.bias).toArray()));
      backward(mean(out));
      assert.ok(lin.weight.grad!.toArray().some((g) => g !== 0));
      assert.equal(packsMade - before, 1);
    });

    it('Embedding.attend multiplies by the transposed table, packed for few rows', () => {
      const emb = new Embedding(40, 16, { rng, device: dev });
      const few = rand([1, 3, 16]);
      const many = rand([1, 12, 16]);
      assert.deepEqual(noGrad(() => emb.attend(few).toArray()), noGrad(() => linearBf16(few, packBf16(emb.weight, { transpose: true })).toArray()));
      assert.deepEqual(noGrad(() => emb.attend(many).toArray()), noGrad(() => matmul(many, emb.weight, { transB: true }).toArray()));
      assert.deepEqual(emb.attend(few).shape, [1, 3, 40]);
    });

    it('every weight write makes the next product use a fresh pack', () => {
      const m = new Wrapper(dev);
      const lin = m.proj;
      const x = rand([1, 16]);
      const product = (): Float32Array => noGrad(() => lin.forward(x).toArray() as Float32Array);
      const fresh = (): Float32Array => noGrad(() => linearBf16(x, packBf16(lin.weight), lin.bias).toArray() as Float32Array);
      let last = product();
      const expectRepacked = (what: string): void => {
        const before = packsMade;
        const now = product();
        assert.equal(packsMade - before, 1, `${what}: one new pack`);
        assert.deepEqual(now, fresh(), `${what}: the product uses the new weights`);
        assert.notDeepEqual(now, last, `${what}: the weights did change`);
        last = now;
      };
      setRandom(lin.weight);
      expectRepacked('Tensor.set');
      m.loadStateDict(new Map([['proj.weight', Float32Array.from({ length: lin.weight.size }, () => rng.normal())], ['proj.bias', new Float32Array(24)]]));
      expectRepacked('loadStateDict');
      const opt = new AdamW(m.parameters(), { lr: 0.1 });
      // Moving into the flat block keeps the values: a new pack (new storage), the same product.
      const moved = product();
      assert.deepEqual(moved, last);
      const snapshot = opt.flat.snapshot();
      backward(mean(lin.forward(rand([3, 16]))));
      opt.update();
      expectRepacked('AdamW.update');
      opt.flat.restore(snapshot);
      expectRepacked('FlatParameters.restore');
      const adapter = LoraAdapter.create(m, { r: 2, alpha: 4, dropout: 0, targetModules: ['proj'], rsLora: false }, { seed: 3 });
      setRandom(adapter.modules.get('proj')!.b);
      mergeAdapter(m, adapter);
      expectRepacked('mergeAdapter');
      const before = packsMade;
      product();
      assert.equal(packsMade, before, 'no write, no new pack');
    });

    it('only parameters are packed', () => {
      assert.throws(() => packedWeight(rand([4, 4])), /packedWeight: only parameters are packed/);
    });
  });
}
