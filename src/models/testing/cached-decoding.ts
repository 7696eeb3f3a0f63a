// KV-cache decoding against full recomputation, shared by the model tests: a 5-token prefill,
// then one token per step, every step's logits compared with the same positions of one full pass.

import assert from 'node:assert/strict';
import { noGrad } from '../../autograd/tape.ts';
import type { Device } from '../../backend/device.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import type { KvCache } from '../kv-cache.ts';
import { assertClose } from './assert-close.ts';

interface CachedModel {
  forward(ids: Tensor, targets: Tensor | null, cache: KvCache | null): { logits: Tensor };
  createCache(batch: number, maxLength: number): KvCache;
}

/** ids (batch × rowLength, row-major) decoded over their first `length` positions. */
export function assertCachedDecodingMatches(model: CachedModel, dev: Device, ids: ArrayLike<number>, batch: number, rowLength: number, length: number, vocab: number): void {
  const pick = (s: number, e: number): Tensor => {
    const v: number[] = [];
    for (let b = 0; b < batch; b++) for (let t = s; t < e; t++) v.push(ids[b * rowLength + t]!);
    return empty(dev, [batch, e - s], 'int32').set(v);
  };
  const full = noGrad(() => model.forward(pick(0, length), null, null).logits.toArray());
  const cache = model.createCache(batch, length);
  const chunks: [number, number][] = [[0, Math.min(5, length)]];
  for (let t = 5; t < length; t++) chunks.push([t, t + 1]);
  noGrad(() => {
    for (const [s, e] of chunks) {
      const lg = model.forward(pick(s, e), null, cache).logits.toArray();
      for (let b = 0; b < batch; b++) {
        for (let t = s; t < e; t++) {
          const got = lg.subarray((b * (e - s) + t - s) * vocab, (b * (e - s) + t - s + 1) * vocab);
          const want = full.subarray((b * length + t) * vocab, (b * length + t + 1) * vocab);
          assertClose(`cached logits b${b} t${t}`, got, want, 1e-5, 1e-5);
        }
      }
    }
  });
  assert.equal(cache.length, length);
}
