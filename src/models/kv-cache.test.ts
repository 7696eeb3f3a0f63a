// The KV cache on its own: appended steps come back as one view of every position so far, rows
// move for beam search, and misuse fails with the cache's shape in the message. Decoding with it
// is tested against full recomputation in gpt.test.ts and translator.test.ts.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { permute, reshape } from '../ops/views.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import { KvCache } from './kv-cache.ts';

describe('KvCache', () => {
  let dev: Device;
  before(async () => {
    dev = await createDevice({ backend: 'ref' });
  });
  after(() => dev.close());

  const [B, H, D] = [2, 2, 3];
  /** (B, H, T, D) heads viewed out of a (B, T, H·D) projection, as the models produce them, valued start+… per position. */
  const step = (T: number, start: number, sign = 1): Tensor => {
    const t = empty(dev, [B, T, H * D]);
    const v: number[] = [];
    for (let b = 0; b < B; b++) for (let p = 0; p < T; p++) for (let c = 0; c < H * D; c++) v.push(sign * (1000 * b + 100 * (start + p) + c));
    return permute(reshape(t.set(v), [B, T, H, D]), [0, 2, 1, 3]);
  };
  /** The value step() gives position p of row b, head h, dim d. */
  const value = (b: number, p: number, h: number, d: number, sign = 1): number => sign * (1000 * b + 100 * p + h * D + d);

  it('append returns every position so far; advance moves on once per step', () => {
    const cache = new KvCache({ layers: 2, batch: B, heads: H, headDim: D, maxLength: 5 }, dev);
    noGrad(() => {
      for (const [start, T] of [[0, 3], [3, 1], [4, 1]] as const) {
        for (let layer = 0; layer < 2; layer++) {
          const [k, v] = cache.append(layer, step(T, start), step(T, start, -1));
          assert.deepEqual(k.shape, [B, H, start + T, D]);
          const kv = k.toArray();
          const vv = v.toArray();
          for (let b = 0; b < B; b++) {
            for (let h = 0; h < H; h++) {
              for (let p = 0; p < start + T; p++) {
                for (let d = 0; d < D; d++) {
                  const at = ((b * H + h) * (start + T) + p) * D + d;
                  assert.equal(kv[at], value(b, p, h, d));
                  assert.equal(vv[at], value(b, p, h, d, -1));
                }
              }
            }
          }
        }
        cache.advance(T);
      }
    });
    assert.equal(cache.length, 5);
    assert.throws(() => cache.advance(1), /the KV cache holds batch 2 × 5 positions; got batch 2 at positions 5..6/);
  });

  it('reorder copies rows for beam search', () => {
    const cache = new KvCache({ layers: 1, batch: B, heads: H, headDim: D, maxLength: 2 }, dev);
    noGrad(() => cache.append(0, step(2, 0), step(2, 0)));
    cache.advance(2);
    cache.reorder([1, 1]);
    const k = cache.keys[0]!.toArray();
    for (let b = 0; b < B; b++) assert.equal(k[((b * H + 1) * 2 + 1) * D + 2], value(1, 1, 1, 2), `row ${b} holds row 1`);
    assert.throws(() => cache.reorder([0]), /KvCache.reorder: got 1 parents for 2 rows/);
    assert.throws(() => cache.reorder([0, 2]), /parent 2 of row 1 is not one of the 2 rows/);
  });

  it('misuse names the cache shape', () => {
    assert.throws(() => new KvCache({ layers: 1, batch: 0, heads: H, headDim: D, maxLength: 4 }, dev), /KvCache: batch must be a positive integer, got 0/);
    const cache = new KvCache({ layers: 1, batch: B, heads: H, headDim: D, maxLength: 4 }, dev);
    assert.throws(() => noGrad(() => cache.append(1, step(1, 0), step(1, 0))), /layer 1 is outside the cache's 1 layers/);
    assert.throws(() => noGrad(() => cache.append(0, step(1, 0), step(2, 0))), /keys and values must both be \(batch 2, heads 2, time, headDim 3\), got \[2, 2, 1, 3\] and \[2, 2, 2, 3\]/);
    assert.throws(() => noGrad(() => cache.append(0, step(5, 0), step(5, 0))), /holds batch 2 × 4 positions; got batch 2 at positions 0..5/);
    assert.throws(() => cache.expectRoom('Gpt.forward', 1, 1), /Gpt.forward: the KV cache holds batch 2/);
    cache.free();
    assert.throws(() => noGrad(() => cache.append(0, step(1, 0), step(1, 0))), /the cache was freed/);
  });
});
