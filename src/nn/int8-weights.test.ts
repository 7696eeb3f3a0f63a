// int8 (q8_0) weight packs on every backend: the pack of a weight is byte for byte its GGUF Q8_0
// tensor (and a Q8_0 tensor imported into float32 packs back into the same blocks), every
// inference product of a Linear or a tied LM head multiplies the blocks (any number of rows,
// inputs whose width is not a multiple of 32 included), a weight write makes a fresh pack, the
// bytes read are counted, and a product that would record gradients (training) is refused.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { nativeStatus } from '../backend/native/native-addon.ts';
import { createDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { decodeGgml, encodeGgml } from '../io/ggml-quants.ts';
import { linear, linearQ8, matmul, packQ8, type PackedQ8 } from '../ops/matmul.ts';
import { mean } from '../ops/reduce.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { expectClose, reductionTol } from '../backend/testing/kernel-harness.ts';
import { oracleMatmulQ8 } from '../backend/testing/kernel-oracle.ts';
import { Embedding, Linear } from './layers.ts';
import { packedWeight, packsMade, weightTraffic, withoutWeightPacking } from './packed-weights.ts';

const devices = [
  { name: 'ref', make: () => createDevice({ backend: 'ref', precision: 'int8' }) },
  { name: 'wasm×2', make: () => createDevice({ backend: 'wasm', threads: 2, precision: 'int8' }) },
  ...(nativeStatus().available ? [{ name: 'native×2', make: () => createDevice({ backend: 'native', threads: 2, precision: 'int8' }) }] : []),
];

/** The pack's bytes, as a GGUF file would hold them. */
function packBytes(p: PackedQ8): Uint8Array {
  const words = p.data.toArray() as Float32Array;
  return new Uint8Array(words.buffer, words.byteOffset, p.n * Math.ceil(p.k / 32) * 34);
}

/**
 * The largest |int8 − fp32| of two products, which must be nonzero (the weights were quantized)
 * and below 5% of the fp32 products' rms: rounding a weight moves it by at most half its block's
 * step, max|w| / 254, so a sum of k products moves by about that times √k, far less.
 */
function expectNearFp32(what: string, got: ArrayLike<number>, fp32: ArrayLike<number>): void {
  let worst = 0;
  let sq = 0;
  for (let i = 0; i < fp32.length; i++) {
    worst = Math.max(worst, Math.abs(got[i]! - fp32[i]!));
    sq += fp32[i]! ** 2;
  }
  const rms = Math.sqrt(sq / fp32.length);
  assert.ok(worst > 0 && worst < 0.05 * rms, `${what}: int8 differs from fp32 by up to ${worst}, the products' rms is ${rms}`);
}

/** (rows, cols) row-major values transposed. */
function transposed(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return out;
}

for (const d of devices) {
  describe(`int8 weight packs on ${d.name}`, () => {
    let dev: Device;
    before(async () => {
      dev = await d.make();
    });
    after(() => dev.close());

    const rng = new Rng(11);
    const rand = (shape: number[], scale = 1): Tensor => {
      const t = empty(dev, shape);
      return t.set(Array.from({ length: t.size }, () => scale * rng.normal()));
    };
    const setRandom = (t: Tensor): void => {
      t.set(Array.from({ length: t.size }, () => rng.normal()));
    };

    it('the pack of a weight is its GGUF Q8_0 tensor, blocks along the input dimension', () => {
      // A Conv1D weight (in 64, out 40): GGUF stores it as 40 rows of 64, and so does the pack.
      const lin = new Linear(64, 40, { rng, device: dev });
      setRandom(lin.weight);
      const w = lin.weight.toArray() as Float32Array;
      assert.deepEqual(packBytes(packedWeight(lin.weight) as PackedQ8), encodeGgml('Q8_0', transposed(w, 64, 40)));
      // The tied LM head reads wte (vocab 50, 96) transposed: its rows are already the GGUF rows.
      const emb = new Embedding(50, 96, { rng, device: dev });
      setRandom(emb.weight);
      const blocks = encodeGgml('Q8_0', emb.weight.toArray() as Float32Array);
      assert.deepEqual(packBytes(packedWeight(emb.weight, true) as PackedQ8), blocks);
      // And back: a Q8_0 tensor read by `genlab import` (dequantized to float32) packs into the same
      // blocks, so int8 decoding of an imported q8_0 model multiplies the file's own blocks.
      emb.weight.set(decodeGgml('Q8_0', blocks, 50 * 96));
      assert.deepEqual(packBytes(packedWeight(emb.weight, true) as PackedQ8), blocks);
    });

    it('every inference product reads the blocks, whatever its number of rows, and is close to fp32', () => {
      const lin = new Linear(96, 40, { rng, device: dev });
      setRandom(lin.weight);
      setRandom(lin.bias!);
      const pack = packQ8(lin.weight);
      for (const rows of [1, 3, 9, 40]) {
        const x = rand([rows, 96]);
        const got = noGrad(() => lin.forward(x).toArray());
        assert.deepEqual(got, noGrad(() => linearQ8(x, pack, lin.bias).toArray()), `${rows} rows: the Linear multiplies the cached pack`);
        expectClose(`${rows} rows, from the blocks`, got, oracleMatmulQ8(Float64Array.from(x.toArray()), packBytes(pack), Float64Array.from(lin.bias!.toArray()), rows, 40, 96), reductionTol(96));
        expectNearFp32(`${rows} rows`, got, noGrad(() => withoutWeightPacking(() => lin.forward(x).toArray())));
      }
    });

    it('a weight whose input width is not a multiple of 32 ends each row in a short block', () => {
      const lin = new Linear(45, 13, { rng, device: dev, outIn: true });
      setRandom(lin.weight);
      const pack = packedWeight(lin.weight, true) as PackedQ8;
      assert.equal(packBytes(pack).length, 13 * 2 * 34);
      const x = rand([5, 45]);
      const got = noGrad(() => lin.forward(x).toArray());
      expectClose('45 inputs, from the blocks', got, oracleMatmulQ8(Float64Array.from(x.toArray()), packBytes(pack), Float64Array.from(lin.bias!.toArray()), 5, 13, 45), reductionTol(45));
      expectNearFp32('45 inputs', got, noGrad(() => withoutWeightPacking(() => lin.forward(x).toArray())));
    });

    it('Embedding.attend multiplies the transposed table in blocks', () => {
      const emb = new Embedding(70, 64, { rng, device: dev });
      const x = rand([2, 3, 64]);
      const got = noGrad(() => emb.attend(x));
      assert.deepEqual(got.shape, [2, 3, 70]);
      assert.deepEqual(got.toArray(), noGrad(() => linearQ8(x, packQ8(emb.weight, { transpose: true })).toArray()));
      expectNearFp32('logits', got.toArray(), noGrad(() => matmul(x, emb.weight, { transB: true }).toArray()));
    });

    it('a weight write makes the next product use a fresh pack, and the bytes read are counted', () => {
      const lin = new Linear(64, 24, { rng, device: dev });
      const x = rand([1, 64]);
      const product = (): Float32Array => noGrad(() => lin.forward(x).toArray() as Float32Array);
      const first = product();
      const made = packsMade;
      const bytes = weightTraffic.bytes;
      assert.deepEqual(product(), first, 'the cached pack');
      assert.equal(packsMade, made, 'is not remade');
      assert.equal(weightTraffic.bytes - bytes, 24 * 2 * 34, 'one product reads the 24 × 2 blocks once');
      setRandom(lin.weight);
      const second = product();
      assert.equal(packsMade, made + 1, 'a write makes a new pack');
      assert.notDeepEqual(second, first);
      assert.deepEqual(second, noGrad(() => linearQ8(x, packQ8(lin.weight), lin.bias).toArray()));
    });

    it('training is refused: a product that would record gradients names the precision to train with', () => {
      const lin = new Linear(32, 8, { rng, device: dev });
      const x = rand([4, 32]);
      assert.throws(() => mean(lin.forward(x)), /int8 precision is for inference .*Train or fine-tune with --precision fp32 or bf16/);
      // The fp32 GEMM still serves products that do not involve a parameter.
      assert.equal(noGrad(() => linear(x, rand([32, 8]))).shape[1], 8);
    });
  });
}
