// genlab's GPT against the PyTorch oracle (scripts/make-gpt-fixture.py wrote the fixture from
// the same safetensors weights): logits, loss, gradients and three AdamW steps, on every backend.
// Where torch is installed the script runs again and must reproduce the committed fixture.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backward, noGrad } from '../autograd/tape.ts';
import { PYTHON, torchAvailable, torchEnv } from '../bench/peer.ts';
import type { Device } from '../backend/device.ts';
import { nativeStatus } from '../backend/native/native-addon.ts';
import { createDevice } from '../backend/registry.ts';
import { testDevices } from '../backend/testing/devices.ts';
import { loadGptWeights } from '../io/gpt-weights.ts';
import { readGpt2Config } from '../io/hf-config.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { AdamW } from '../optim/adamw.ts';
import { packsMade, withoutWeightPacking } from '../nn/packed-weights.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { Gpt } from './gpt.ts';
import { assertClose } from './testing/assert-close.ts';
import { assertCachedDecodingMatches } from './testing/cached-decoding.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'gpt-tiny');
const expected = openSafetensors(path.join(dir, 'expected.safetensors'));
const config = readGpt2Config(dir);

/** rtol, atol for a fixture tensor: float32 sums in another order, amplified by backward and AdamW. */
function tolerance(name: string): [number, number] {
  if (name === 'logits' || name === 'adam.losses') return [1e-4, 1e-5];
  if (name === 'loss') return [1e-5, 1e-6];
  if (name.startsWith('grad.')) return [1e-3, 1e-6];
  if (name.startsWith('adam.')) return [1e-3, 1e-5];
  throw new Error(`no tolerance for fixture tensor ${name}`);
}

describe('the GPT fixture is what PyTorch computes', { skip: torchAvailable() ? false : 'needs /usr/bin/python3 with torch' }, () => {
  it('scripts/make-gpt-fixture.py writes the same weights and config, and the expected tensors within tolerance', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'genlab-gpt-fixture-'));
    try {
      execFileSync(PYTHON, ['scripts/make-gpt-fixture.py', out], { env: torchEnv(), encoding: 'utf8' });
      for (const file of ['model.safetensors', 'config.json']) {
        assert.ok(readFileSync(path.join(out, file)).equals(readFileSync(path.join(dir, file))), `${file} differs from the committed fixture`);
      }
      const fresh = openSafetensors(path.join(out, 'expected.safetensors'));
      try {
        assert.deepEqual(fresh.names, expected.names);
        assert.deepEqual(fresh.metadata, expected.metadata);
        for (const name of expected.names) {
          assert.deepEqual(fresh.info(name).shape, expected.info(name).shape, name);
          if (expected.info(name).dtype === 'I32') assert.deepEqual(fresh.readI32(name), expected.readI32(name), name);
          else assertClose(`${name} (this run vs the committed fixture)`, fresh.readF32(name), expected.readF32(name), ...tolerance(name));
        }
      } finally {
        fresh.close();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

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
      assertClose('logits', logits.toArray(), expected.readF32('logits'), ...tolerance('logits'));
      assertClose('loss', [loss!.item()], expected.readF32('loss'), ...tolerance('loss'));
    });

    it('gradients', () => {
      const model = load();
      const { loss } = model.forward(ids, targets);
      backward(loss!);
      const params = model.stateDict();
      for (const name of expected.names.filter((n) => n.startsWith('grad.'))) {
        const p = params.get(name.slice(5))!;
        assertClose(name, p.grad!.toArray(), expected.readF32(name), ...tolerance(name));
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
      assertClose('adam losses', losses, expected.readF32('adam.losses'), ...tolerance('adam.losses'));
      const params = model.stateDict();
      for (const name of expected.names.filter((n) => n.startsWith('adam.') && n !== 'adam.losses')) {
        assertClose(name, params.get(name.slice(5))!.toArray(), expected.readF32(name), ...tolerance(name));
      }
    });

    it('KV-cache decoding equals full recomputation', () => {
      assertCachedDecodingMatches(load().eval(), dev, ids.toArray(), 2, 12, 12, config.vocabSize);
    });
  });
}

// bf16 decoding: on a device with bf16 matmuls, decoding steps stream the weights packed as bf16
// (made on the first step, kept beside each weight). They must give the logits the bf16 GEMM gives
// without packing.
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

    it('packed and unpacked decoding give the same logits, close to full recomputation', () => {
      const model = new Gpt(config, { device: dev });
      loadGptWeights(model, path.join(dir, 'model.safetensors'));
      model.eval();
      const ids = expected.readI32('ids');
      const decode = (): Float32Array[] => {
        const cache = model.createCache(2, 12);
        const out: Float32Array[] = [];
        noGrad(() => {
          // A 5-token prefill (10 rows: the GEMM), then one token per step (2 rows: packed).
          for (const [s, e] of [[0, 5], ...Array.from({ length: 7 }, (_, i) => [5 + i, 6 + i])] as const) {
            const part = empty(dev, [2, e - s], 'int32');
            const pv: number[] = [];
            for (let b = 0; b < 2; b++) for (let t = s; t < e; t++) pv.push(ids[b * 12 + t]!);
            part.set(pv);
            out.push(model.forward(part, null, cache).logits.toArray() as Float32Array);
          }
        });
        return out;
      };
      const matrices = 4 * config.nLayer + 1; // c_attn, attn.c_proj, c_fc, mlp.c_proj per block, and the tied head
      const before = packsMade;
      const packed = decode();
      assert.equal(packsMade - before, matrices, 'the first decoding step packs every matrix once');
      assert.deepEqual(decode(), packed, 'a second decode reuses the packs and gives the same logits');
      assert.equal(packsMade - before, matrices, 'unchanged weights are not packed again');
      const plain = withoutWeightPacking(decode);
      assert.equal(packsMade - before, matrices);
      for (let i = 0; i < packed.length; i++) assertClose(`step ${i}`, packed[i]!, plain[i]!, 1e-5, 1e-6);
      const full = noGrad(() => model.forward(empty(dev, [2, 12], 'int32').set(ids)).logits.toArray());
      const V = config.vocabSize;
      const last = packed.at(-1)!;
      for (let b = 0; b < 2; b++) assertClose(`last position b${b}`, last.subarray(b * V, (b + 1) * V), full.subarray((b * 12 + 11) * V, (b * 12 + 12) * V), 1e-4, 1e-5);
    });

    it('a step that records gradients multiplies the fp32 weights, and a KV cache refuses it', () => {
      const model = new Gpt(config, { device: dev }).eval();
      const one = empty(dev, [1, 1], 'int32').set([1]);
      const before = packsMade;
      const { loss } = model.forward(one, empty(dev, [1, 1], 'int32').set([2]));
      backward(loss!);
      assert.equal(packsMade, before, 'nothing was packed');
      for (const p of [model.wte.weight, model.h[0]!.attn.cAttn.weight, model.h[0]!.mlp.cProj.weight]) {
        assert.ok(p.grad && p.grad.toArray().some((g) => g !== 0), `${p.name} got a gradient`);
      }
      // The cache's keys have no gradient to give back, so a recorded step through it is refused.
      assert.throws(() => model.forward(one, null, model.createCache(1, 4)), /writeSlice: .*in place without recording a gradient.*noGrad\(\)/);
    });
  });
}
