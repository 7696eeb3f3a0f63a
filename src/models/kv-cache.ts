// Keys and values of past positions for incremental decoding: one preallocated (B, H, maxLength, D)
// buffer per layer and per K/V, so a decoding step writes only its own positions and attends over
// views of everything filled so far. Models call append() in each attention layer and advance()
// once the step's last layer has run.

import type { Device } from '../backend/device.ts';
import { slice, writeSlice } from '../ops/views.ts';
import { empty, formatShape, markWritten, sameShape, type Tensor } from '../tensor/tensor.ts';

export interface KvCacheShape {
  /** Attention layers, each with its own keys and values. */
  layers: number;
  /** Sequences decoded together, B. */
  batch: number;
  /** Attention heads, H. */
  heads: number;
  /** Width of one head, D. */
  headDim: number;
  /** Positions the buffers hold. */
  maxLength: number;
}

export class KvCache {
  readonly layers: number;
  readonly batch: number;
  readonly heads: number;
  readonly headDim: number;
  readonly maxLength: number;
  /** (B, H, maxLength, D) per layer. */
  readonly keys: Tensor[] = [];
  readonly values: Tensor[] = [];
  /** Positions filled by every layer so far. */
  length = 0;
  /**
   * Bytes of keys and values the attention of every step so far was handed to read (all the
   * positions up to its own, per layer): with the weights, what a decoding step streams.
   */
  bytesRead = 0;
  private freed = false;

  constructor(shape: KvCacheShape, device: Device) {
    for (const k of ['layers', 'batch', 'heads', 'headDim', 'maxLength'] as const) {
      if (!Number.isInteger(shape[k]) || shape[k] <= 0) throw new Error(`KvCache: ${k} must be a positive integer, got ${shape[k]}`);
    }
    ({ layers: this.layers, batch: this.batch, heads: this.heads, headDim: this.headDim, maxLength: this.maxLength } = shape);
    device.heapScope(() => {
      for (let i = 0; i < shape.layers; i++) {
        this.keys.push(empty(device, [shape.batch, shape.heads, shape.maxLength, shape.headDim]));
        this.values.push(empty(device, [shape.batch, shape.heads, shape.maxLength, shape.headDim]));
      }
    });
  }

  /** Throws unless a step of `tokens` new positions for `batch` rows fits (checked before any layer runs). */
  expectRoom(who: string, batch: number, tokens: number): void {
    if (batch !== this.batch || this.length + tokens > this.maxLength) {
      throw new Error(`${who}: the KV cache holds batch ${this.batch} × ${this.maxLength} positions; got batch ${batch} at positions ${this.length}..${this.length + tokens}`);
    }
  }

  /**
   * Stores this step's k and v (B, H, T, D) of `layer` at positions length..length+T and returns
   * the keys and values of all positions so far, (B, H, length+T, D) views into the cache.
   */
  append(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const keys = this.keys[layer];
    const values = this.values[layer];
    if (!keys || !values) throw new Error(`KvCache.append: layer ${layer} is outside the cache's ${this.layers} layers`);
    if (this.freed) throw new Error('KvCache.append: the cache was freed; create a new one');
    const T = k.shape[2]!;
    if (k.ndim !== 4 || k.shape[0] !== this.batch || k.shape[1] !== this.heads || k.shape[3] !== this.headDim || !sameShape(k.shape, v.shape)) {
      throw new Error(`KvCache.append: keys and values must both be (batch ${this.batch}, heads ${this.heads}, time, headDim ${this.headDim}), got ${formatShape(k.shape)} and ${formatShape(v.shape)}`);
    }
    this.expectRoom('KvCache.append', this.batch, T);
    writeSlice(keys, 2, this.length, k);
    writeSlice(values, 2, this.length, v);
    this.bytesRead += 2 * 4 * this.batch * this.heads * (this.length + T) * this.headDim;
    return [slice(keys, 2, 0, this.length + T), slice(values, 2, 0, this.length + T)];
  }

  /** Marks `tokens` more positions filled; the model calls it after its last layer's append. */
  advance(tokens: number): void {
    this.expectRoom('KvCache.advance', this.batch, tokens);
    this.length += tokens;
  }

  /**
   * Beam search: row i of every layer's keys and values becomes a copy of row parents[i] (the
   * hypothesis it extends).
   */
  reorder(parents: ArrayLike<number>): void {
    if (parents.length !== this.batch) throw new Error(`KvCache.reorder: got ${parents.length} parents for ${this.batch} rows`);
    let identity = true;
    for (let i = 0; i < parents.length; i++) {
      const p = parents[i]!;
      if (!Number.isInteger(p) || p < 0 || p >= this.batch) throw new Error(`KvCache.reorder: parent ${p} of row ${i} is not one of the ${this.batch} rows`);
      identity &&= p === i;
    }
    if (identity) return;
    for (const t of [...this.keys, ...this.values]) {
      const dev = t.device;
      dev.refreshViews();
      const row = t.size / this.batch;
      const f = dev.f32;
      const copy = f.slice(t.ptr, t.ptr + t.size);
      for (let i = 0; i < parents.length; i++) f.set(copy.subarray(parents[i]! * row, (parents[i]! + 1) * row), t.ptr + i * row);
      markWritten(t.storage);
    }
  }

  /** Returns the buffers' memory now instead of when the cache is garbage-collected. */
  free(): void {
    this.freed = true;
    for (const t of [...this.keys, ...this.values]) t.device.freeStorage(t.storage);
  }
}
