// The bytes per token `genlab bench generate` prints: every weight matrix a decoding step reads,
// in the format it reads it (fp32, bf16 packs, int8 q8_0 blocks), plus the keys and values its
// attention reads, checked against the arithmetic for a 2-layer, 64-wide GPT.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDevice, defaultBackend, type Precision } from '../backend/registry.ts';
import { benchDecode, type BenchConfig } from './train.ts';

const tiny: BenchConfig = { name: 'tiny', vocabSize: 64, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 2, batch: 1, seqLen: 8, steps: 4 };

// (in, out) of c_attn, attn.c_proj, c_fc, mlp.c_proj per layer, and the tied LM head (in 64, out 64).
const matrices: [number, number][] = [...Array.from({ length: 2 }, () => [[64, 192], [64, 64], [64, 256], [256, 64]] as [number, number][]).flat(), [64, 64]];
const bytesPerWeight: Record<Precision, (k: number, n: number) => number> = {
  fp32: (k, n) => 4 * k * n,
  bf16: (k, n) => 2 * k * n,
  // n rows of ceil(k / 32) blocks of 34 bytes
  int8: (k, n) => n * Math.ceil(k / 32) * 34,
};
// The timed run: the 8-token prompt, then 4 tokens; each step's attention reads all positions so
// far (8, 9, ..., 12), keys and values, 64 floats each, in both layers.
const kvPerStep = ((8 + 9 + 10 + 11 + 12) * 2 * 64 * 4 * 2) / 5;

test('bench generate counts the weight and KV-cache bytes each decoding step reads', async () => {
  const backend = await defaultBackend();
  const got: Partial<Record<Precision, number>> = {};
  for (const precision of ['fp32', 'bf16', 'int8'] as const) {
    const dev = await createDevice({ backend, threads: 1, precision });
    try {
      const r = benchDecode(dev, tiny);
      const weights = matrices.reduce((s, [k, n]) => s + bytesPerWeight[precision](k, n), 0);
      assert.equal(r.kvBytesPerToken, kvPerStep, `${precision}: KV cache bytes per step`);
      assert.equal(r.bytesPerToken, weights + kvPerStep, `${precision}: weights ${weights} + KV ${kvPerStep} bytes per step`);
      got[precision] = r.bytesPerToken;
    } finally {
      await dev.close();
    }
  }
  assert.ok(got.int8! < got.bf16! && got.bf16! < got.fp32!, `int8 ${got.int8} < bf16 ${got.bf16} < fp32 ${got.fp32}`);
});
