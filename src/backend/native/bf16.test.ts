// bf16 matmul precision: every bf16 GEMM this machine runs (the emulation on each instruction
// set, AVX512-BF16, the AMX code path with emulated tile instructions, real AMX where granted),
// and the ref/wasm emulation, against float64 oracles.
//
// Tolerances (documented in docs/native-backend.md):
// - against the oracle on bf16-ROUNDED operands: the fp32 suite's reductionTol(k). bf16 products
//   are exact in fp32, so a correct kernel differs from that oracle only by fp32 accumulation.
// - against the oracle on the original fp32 operands: BF16_TOL = 2e-2 relative to (|value| + rms),
//   the effect of rounding each operand to 8 significant bits (unit roundoff 2^-9).
// - the GPT-2 fixture (PyTorch fp32): logits within 5e-2·(|x| + 1e-1), loss within 1e-2 relative.
// - training: the tiny preset's validation loss in bf16 within 1% of fp32 at the same step count.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../../autograd/tape.ts';
import { resolveSource } from '../../data/corpus.ts';
import { BatchLoader } from '../../data/loader.ts';
import { loadGptWeights } from '../../io/gpt-weights.ts';
import { readGpt2Config } from '../../io/hf-config.ts';
import { openSafetensors } from '../../io/safetensors.ts';
import { Gpt } from '../../models/gpt.ts';
import { empty } from '../../tensor/tensor.ts';
import { prepareTrainingData } from '../../train/run.ts';
import { presets } from '../../train/presets.ts';
import { evaluate, trainLoop } from '../../train/trainer.ts';
import { Device } from '../device.ts';
import { expectClose, Harness, normals, reductionTol } from '../testing/kernel-harness.ts';
import * as oracle from '../testing/kernel-oracle.ts';
import { createDevice } from '../registry.ts';
import { Rng } from '../rng.ts';
import { bf16 } from './bf16-emulation.ts';
import { nativeStatus, type NativeIsa } from './native-addon.ts';
import { createNativeBackend, type Bf16Kernel } from './native-backend.ts';

const BF16_TOL = 2e-2;
const status = nativeStatus();

interface Variant {
  name: string;
  make: () => Promise<Device>;
}

function variants(): Variant[] {
  const list: Variant[] = [
    { name: 'ref (emulated)', make: () => createDevice({ backend: 'ref', precision: 'bf16' }) },
    { name: 'wasm×2 (emulated)', make: () => createDevice({ backend: 'wasm', threads: 2, precision: 'bf16' }) },
  ];
  const f = status.features;
  if (!f) return list;
  const add = (isa: NativeIsa, kernel: Bf16Kernel, threads: number): void => {
    list.push({ name: `native ${isa} ${kernel} ×${threads}`, make: async () => new Device(createNativeBackend({ isa, threads, precision: 'bf16', bf16Kernel: kernel, splitAll: threads > 1 })) });
  };
  for (const isa of f.isas) add(isa, 'emulated', 1);
  add(f.isas[f.isas.length - 1]!, 'emulated', 2);
  if (f.avx512bf16 && f.isas.includes('avx512')) {
    add('avx512', 'avx512bf16', 1);
    add('avx512', 'avx512bf16', 2);
  }
  // The AMX code path (packing, tiling, edges) with the tile instructions emulated in C++.
  add('portable', 'amx-emulated', 2);
  if (f.amx) {
    add('amx', 'amx', 1);
    add('amx', 'amx', 2);
  }
  return list;
}

interface Case extends oracle.MatmulCase {
  bias: boolean;
}

function mc(m: number, n: number, k: number, over: Partial<Case> = {}): Case {
  return { batch: 1, m, n, k, transA: false, transB: false, strideA: m * k, strideB: k * n, strideC: m * n, accumulate: false, bias: false, ...over };
}

const CASES: [string, Case[]][] = [
  ['tiny and odd shapes, every transpose', [1, 7, 63, 130].flatMap((s, i) => [false, true].flatMap((ta) => [false, true].map((tb) => mc(s, [1, 13, 65, 70][i]!, [1, 5, 33, 129][i]!, { transA: ta, transB: tb }))))],
  ['k beyond one block (AMX: 1024, AVX512-BF16: 512), odd k', [mc(70, 45, 1101, { transB: true }), mc(33, 97, 1025, { transA: true, accumulate: true })]],
  ['batched, bias, accumulate, strideC 0', [mc(7, 13, 5, { batch: 3, strideA: 40, strideB: 68, strideC: 98, bias: true }), mc(5, 7, 13, { batch: 3, strideC: 0, accumulate: true, transA: true })]],
  ['few rows (the streaming path)', [mc(1, 300, 77), mc(3, 50, 200, { transB: true }), mc(8, 33, 65, { transA: true, bias: true })]],
];

function roundAll(x: Float64Array): Float64Array {
  return x.map((v) => bf16(v));
}

for (const v of variants()) {
  describe(`bf16 matmul on ${v.name}`, () => {
    let dev: Device;
    before(async () => {
      dev = await v.make();
    });
    after(() => dev.close());

    for (const [title, cases] of CASES) {
      it(title, () => {
        const rng = new Rng(42);
        const h = new Harness(dev);
        try {
          for (const c of cases) {
            const span = (stride: number, size: number): number => (c.batch - 1) * stride + size;
            const a = normals(rng, span(c.strideA, c.m * c.k));
            const b = normals(rng, span(c.strideB, c.k * c.n));
            const cLen = span(c.strideC, c.m * c.n);
            const cInit = c.accumulate ? normals(rng, cLen) : new Float64Array(cLen).fill(NaN);
            const bias = c.bias ? normals(rng, c.n) : null;
            const ap = h.input(a, 'A');
            const bp = h.input(b, 'B');
            const cp = c.accumulate ? h.buffer(cInit, 'C') : h.output(cLen, 'C');
            const biasPtr = bias ? h.input(bias, 'bias') : 0;
            // h.run also checks that A and B come back bit-identical (the emulation restores them).
            h.run(() => dev.kernels.matmul(ap, bp, cp, biasPtr, c.batch, c.m, c.n, c.k, c.transA, c.transB, c.strideA, c.strideB, c.strideC, c.accumulate));
            const got = h.read(cp, cLen);
            const what = `${c.batch}×${c.m}×${c.n}×${c.k} tA=${c.transA} tB=${c.transB}`;
            const terms = c.k + (c.strideC === 0 ? c.batch : 0);
            expectClose(`${what} vs bf16-rounded oracle`, got, oracle.oracleMatmul(roundAll(a), roundAll(b), cInit, bias, c), reductionTol(terms));
            expectClose(`${what} vs fp32 oracle`, got, oracle.oracleMatmul(a, b, cInit, bias, c), BF16_TOL);
          }
        } finally {
          h.dispose();
        }
      });
    }
  });
}

const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'fixtures', 'gpt-tiny');

describe('bf16 GPT-2 against the PyTorch fp32 fixture', () => {
  for (const backend of status.available ? (['native', 'ref'] as const) : (['ref'] as const)) {
    it(`logits and loss on ${backend}`, async () => {
      const dev = await createDevice({ backend, precision: 'bf16', ...(backend === 'native' ? { threads: 2 } : {}) });
      try {
        const expected = openSafetensors(path.join(fixtureDir, 'expected.safetensors'));
        const model = new Gpt(readGpt2Config(fixtureDir), { device: dev });
        loadGptWeights(model, path.join(fixtureDir, 'model.safetensors'));
        const ids = empty(dev, [2, 12], 'int32').set(expected.readI32('ids'));
        const targets = empty(dev, [2, 12], 'int32').set(expected.readI32('targets'));
        const { logits, loss } = noGrad(() => model.forward(ids, targets));
        const got = logits.toArray();
        const want = expected.readF32('logits');
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (Math.abs(want[i]!) + 0.1));
        assert.ok(worst <= 5e-2, `bf16 logits differ from fp32 PyTorch by ${worst.toFixed(4)} of (|x| + 0.1), more than 5e-2`);
        const l = loss!.item();
        const wl = expected.readF32('loss')[0]!;
        assert.ok(Math.abs(l - wl) <= 1e-2 * wl, `bf16 loss ${l} vs fp32 PyTorch ${wl}`);
      } finally {
        await dev.close();
      }
    });
  }
});

describe('bf16 training on the tiny preset', () => {
  it('reaches a validation loss within 1% of fp32 at the same step count', { timeout: 900_000 }, async (t) => {
    const p = presets.tiny;
    const steps = 300;
    const seed = 1;
    const { tokenizer, data } = await prepareTrainingData({ sources: [resolveSource('sotu')], vocabSize: p.vocabSize, cacheDir: '.cache/genlab', seed, valFraction: 0.05, quiet: true });
    const backend = status.available ? 'native' : 'wasm';
    const losses: Record<string, number> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const dev = await createDevice({ backend, threads: 2, precision });
      const out = await mkdtemp(path.join(os.tmpdir(), 'genlab-bf16-'));
      try {
        const model = new Gpt({ ...p.model, vocabSize: tokenizer.vocabSize }, { device: dev, seed });
        const train = new BatchLoader({ shards: data.trainFiles, batchSize: p.batch, seqLen: p.seqLen, mode: 'shuffle', seed, vocabSize: tokenizer.vocabSize });
        const val = new BatchLoader({ shards: data.valFiles, batchSize: 8, seqLen: p.seqLen, mode: 'sequential', seed, vocabSize: tokenizer.vocabSize });
        await trainLoop(model, train, val, { steps, lr: p.lr, warmup: 30, evalEvery: 0, checkpointEvery: 0, seed, outDir: out });
        losses[precision] = evaluate(model, val, 32);
        train.close();
        val.close();
      } finally {
        await dev.close();
        await rm(out, { recursive: true, force: true });
      }
    }
    const rel = Math.abs(losses['bf16']! - losses['fp32']!) / losses['fp32']!;
    t.diagnostic(`${backend}, ${steps} steps: validation loss fp32 ${losses['fp32']!.toFixed(4)}, bf16 ${losses['bf16']!.toFixed(4)} (${(100 * rel).toFixed(2)}% apart)`);
    assert.ok(rel <= 0.01, `tiny preset after ${steps} steps on ${backend}: bf16 validation loss ${losses['bf16']!.toFixed(4)} vs fp32 ${losses['fp32']!.toFixed(4)} (${(100 * rel).toFixed(2)}% apart)`);
    assert.ok(losses['fp32']! < Math.log(tokenizer.vocabSize) - 1, `fp32 run did not learn: validation loss ${losses['fp32']}`);
  });
});
