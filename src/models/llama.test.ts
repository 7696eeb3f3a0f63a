// genlab's Llama-family model against the PyTorch oracle (scripts/make-llama-fixture.py wrote one
// fixture per family and rope_scaling type, each with a real checkpoint's flags, from the weights
// stored beside it in bf16, f16 or f32, one of them sharded, two with sliding windows shorter than
// the test sequence): logits, loss, every gradient, and KV-cache decoding against full
// recomputation, on every backend. Where torch is installed the
// script runs again and must reproduce the committed fixtures.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backward, noGrad } from '../autograd/tape.ts';
import { PYTHON, torchAvailable, torchEnv } from '../bench/peer.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { testDevices } from '../backend/testing/devices.ts';
import { readLlamaConfig } from '../io/llama-config.ts';
import { loadLlamaWeights } from '../io/llama-weights.ts';
import { openSafetensors, type SafetensorsReader } from '../io/safetensors.ts';
import { packsMade, withoutWeightPacking } from '../nn/packed-weights.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { layerWindow, Llama, type LlamaConfig } from './llama.ts';
import { assertClose } from './testing/assert-close.ts';
import { assertCachedDecodingMatches } from './testing/cached-decoding.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const names = readdirSync(root).filter((n) => n.startsWith('llama-')).sort();
const B = 2;
const T = 12;

interface Fixture {
  name: string;
  dir: string;
  config: LlamaConfig;
  expected: SafetensorsReader;
}
const fixtures: Fixture[] = names.map((name) => {
  const dir = path.join(root, name);
  return { name, dir, config: readLlamaConfig(dir), expected: openSafetensors(path.join(dir, 'expected.safetensors')) };
});

it('the fixtures cover every family, rope_scaling type, stored dtype and a sharded checkpoint', () => {
  const types = new Set(fixtures.map((f) => f.config.modelType));
  assert.deepEqual([...types].sort(), ['llama', 'mistral', 'qwen2', 'qwen3']);
  assert.deepEqual(new Set(fixtures.map((f) => f.config.ropeScaling?.type ?? 'none')), new Set(['none', 'llama3', 'linear', 'dynamic']));
  const dtypes = new Set<string>();
  for (const f of fixtures) {
    for (const file of readdirSync(f.dir).filter((n) => n.startsWith('model') && n.endsWith('.safetensors'))) {
      const r = openSafetensors(path.join(f.dir, file));
      for (const t of r.tensors) dtypes.add(t.dtype);
      r.close();
    }
  }
  assert.deepEqual([...dtypes].sort(), ['BF16', 'F16', 'F32']);
  assert.ok(fixtures.some((f) => readdirSync(f.dir).includes('model.safetensors.index.json')), 'no sharded fixture');
  assert.ok(fixtures.some((f) => f.config.qkvBias && !f.config.oBias), 'no Qwen2-style biases');
  assert.ok(fixtures.some((f) => f.config.qkNorm && f.config.headDim * f.config.numAttentionHeads !== f.config.hiddenSize), 'no Qwen3 q/k norm with a wide head_dim');
  // Windows the 12 test positions run past: in every layer (Mistral), and from max_window_layers on (Qwen2).
  const windows = (f: Fixture): number[] => Array.from({ length: f.config.numHiddenLayers }, (_, i) => layerWindow(f.config, i));
  assert.ok(fixtures.some((f) => f.config.modelType === 'mistral' && windows(f).every((w) => w > 0 && w < T)), 'no Mistral window shorter than the test sequence');
  assert.ok(fixtures.some((f) => f.config.modelType === 'qwen2' && windows(f)[0] === 0 && windows(f).some((w) => w > 0 && w < T)), 'no Qwen2 model with full and windowed layers');
  assert.ok(fixtures.some((f) => !f.config.tieWordEmbeddings) && fixtures.some((f) => f.config.tieWordEmbeddings));
});

describe('the Llama fixtures are what PyTorch computes', { skip: torchAvailable() ? false : 'needs /usr/bin/python3 with torch' }, () => {
  it('scripts/make-llama-fixture.py writes the same weights and configs, and the expected tensors within tolerance', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'genlab-llama-fixture-'));
    try {
      execFileSync(PYTHON, ['scripts/make-llama-fixture.py', out], { env: torchEnv(), encoding: 'utf8' });
      for (const f of fixtures) {
        for (const file of readdirSync(f.dir).filter((n) => n !== 'expected.safetensors')) {
          assert.ok(readFileSync(path.join(out, f.name, file)).equals(readFileSync(path.join(f.dir, file))), `${f.name}/${file} differs from the committed fixture`);
        }
        const fresh = openSafetensors(path.join(out, f.name, 'expected.safetensors'));
        try {
          assert.deepEqual(fresh.names, f.expected.names);
          for (const name of f.expected.names) {
            if (f.expected.info(name).dtype === 'I32') assert.deepEqual(fresh.readI32(name), f.expected.readI32(name), name);
            else assertClose(`${f.name} ${name} (this run vs the committed fixture)`, fresh.readF32(name), f.expected.readF32(name), 1e-5, 1e-7);
          }
        } finally {
          fresh.close();
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

for (const td of testDevices) {
  describe(`Llama family vs PyTorch fixtures on ${td.name}`, () => {
    let dev: Device;
    before(async () => {
      dev = await td.make();
    });
    after(() => dev.close());

    const load = (f: Fixture): Llama => {
      const model = new Llama(f.config, { device: dev });
      loadLlamaWeights(model, f.dir);
      return model;
    };
    const idsOf = (f: Fixture, key: string): Tensor => empty(dev, [B, T], 'int32').set(f.expected.readI32(key));

    for (const f of fixtures) {
      it(`${f.name}: logits to 1e-4 and loss`, () => {
        const model = load(f);
        const { logits, loss } = noGrad(() => model.forward(idsOf(f, 'ids'), idsOf(f, 'targets')));
        assertClose('logits', logits.toArray(), f.expected.readF32('logits'), 1e-4, 1e-5);
        assertClose('loss', [loss!.item()], f.expected.readF32('loss'), 1e-5, 1e-6);
      });

      it(`${f.name}: gradient of every parameter`, () => {
        const model = load(f);
        const { loss } = model.forward(idsOf(f, 'ids'), idsOf(f, 'targets'));
        backward(loss!);
        const params = model.stateDict();
        const grads = f.expected.names.filter((n) => n.startsWith('grad.'));
        assert.deepEqual(grads.map((n) => n.slice(5)).sort(), [...params.keys()].sort(), 'the fixture has a gradient for exactly the model parameters');
        for (const name of grads) assertClose(name, params.get(name.slice(5))!.grad!.toArray(), f.expected.readF32(name), 1e-3, 1e-6);
      });

      // Dynamic NTK scaling changes every angle once the sequence passes max_position_embeddings,
      // so cached keys (rotated at the shorter length) only match a full pass up to that length.
      const decodeLength = f.config.ropeScaling?.type === 'dynamic' ? f.config.maxPositionEmbeddings : T;
      const past = f.config.slidingWindow !== null && f.config.slidingWindow < decodeLength ? ` (past the window of ${f.config.slidingWindow})` : '';
      it(`${f.name}: KV-cache decoding of ${decodeLength} positions${past} equals full recomputation`, () => {
        assertCachedDecodingMatches(load(f).eval(), dev, f.expected.readI32('ids'), B, T, decodeLength, f.config.vocabSize);
      });
    }

    it('the sliding window masks only past it: the first `window` positions equal an unwindowed model, later ones differ', () => {
      const f = fixtures.find((x) => x.config.modelType === 'mistral')!;
      const w = f.config.slidingWindow!;
      const model = load(f);
      assert.equal(model.contextLength, f.config.maxPositionEmbeddings, 'the window does not cap the context');
      const full = new Llama({ ...f.config, slidingWindow: null }, { device: dev });
      loadLlamaWeights(full, f.dir);
      const ids = idsOf(f, 'ids');
      const [a, b] = noGrad(() => [model.forward(ids).logits.toArray(), full.forward(ids).logits.toArray()]);
      const V = f.config.vocabSize;
      for (let t = 0; t < T; t++) {
        let diff = 0;
        for (let i = t * V; i < (t + 1) * V; i++) diff = Math.max(diff, Math.abs(a![i]! - b![i]!));
        if (t < w) assert.ok(diff < 1e-5, `position ${t} sees its whole past through a window of ${w}, yet differs by ${diff}`);
        else assert.ok(diff > 1e-3, `position ${t} is past the window of ${w}, yet equals full attention (max diff ${diff})`);
      }
    });
  });
}

// bf16 decoding multiplies (out, in) Llama weights through transposed packs; they must give what
// the bf16 GEMM gives without packing.
describe('bf16 decoding of a Llama with packed (out, in) weights on ref', () => {
  let dev: Device;
  before(async () => {
    dev = await createDevice({ backend: 'ref', precision: 'bf16' });
  });
  after(() => dev.close());

  it('packed and unpacked decoding give the same logits', () => {
    const f = fixtures.find((x) => x.name === 'llama-qwen25')!;
    const model = new Llama(f.config, { device: dev });
    loadLlamaWeights(model, f.dir);
    model.eval();
    const idv = f.expected.readI32('ids');
    const decode = (): ArrayLike<number>[] => {
      const cache = model.createCache(B, 8);
      const out: ArrayLike<number>[] = [];
      noGrad(() => {
        for (let t = 0; t < 8; t++) out.push(model.forward(empty(dev, [B, 1], 'int32').set([idv[t]!, idv[T + t]!]), null, cache).logits.toArray());
      });
      return out;
    };
    const before = packsMade;
    const packed = decode();
    assert.ok(packsMade > before, 'decoding packed the weights');
    const plain = withoutWeightPacking(decode);
    for (let i = 0; i < packed.length; i++) assertClose(`step ${i}`, packed[i]!, plain[i]!, 1e-5, 1e-6);
  });
});
