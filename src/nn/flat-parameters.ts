// One flat block for all trainable parameters, their gradients and the optimizer's two moments:
// [ params | grads | m | v ], each region laid out identically. The optimizer, gradient clipping,
// zeroing and NaN checks are then single kernel calls over a region, and a checkpoint is a
// header plus views. Parameters are re-pointed into the block, keeping their Tensor identity.

import type { Device, Storage } from '../backend/device.ts';
import { markWritten, viewOf, type Tensor } from '../tensor/tensor.ts';

export interface FlatGroup {
  /** Element offset of the group inside each region. */
  offset: number;
  size: number;
}

export class FlatParameters {
  readonly device: Device;
  readonly storage: Storage;
  /** Elements per region (all parameters, padded). */
  readonly size: number;
  readonly tensors: readonly Tensor[];
  /** Parameters that get weight decay (matrices), then those that do not (biases, norms). */
  readonly decay: FlatGroup;
  readonly noDecay: FlatGroup;

  constructor(params: readonly Tensor[]) {
    if (params.length === 0) throw new Error('FlatParameters: no trainable parameters (did you freeze everything?)');
    const dev = params[0]!.device;
    for (const p of params) {
      if (p.device !== dev) throw new Error(`FlatParameters: parameter '${p.name}' is on ${p.device.name}, others on ${dev.name}`);
      if (!p.requiresGrad) throw new Error(`FlatParameters: parameter '${p.name}' does not require a gradient`);
    }
    this.device = dev;
    const ordered = [...params.filter((p) => p.ndim >= 2), ...params.filter((p) => p.ndim < 2)];
    const pad = (n: number): number => Math.ceil(n / 16) * 16;
    let offset = 0;
    const offsets: number[] = [];
    let decayEnd = 0;
    for (const p of ordered) {
      offsets.push(offset);
      offset += pad(p.size);
      if (p.ndim >= 2) decayEnd = offset;
    }
    this.size = offset;
    this.decay = { offset: 0, size: decayEnd };
    this.noDecay = { offset: decayEnd, size: offset - decayEnd };
    this.storage = dev.heapScope(() => dev.allocStorage(4 * this.size));
    const base = this.storage.ptr;
    dev.kernels.fill(base, 4 * this.size, 0);
    ordered.forEach((p, i) => {
      const at = base + offsets[i]!;
      dev.kernels.copyStrided(p.ptr, p.strides, at, contiguousStrides(p.shape), p.shape, false);
      const old = p.storage;
      p.storage = this.storage;
      p.offset = offsets[i]!;
      if (old !== this.storage) dev.freeStorage(old);
      const g = dev.heapScope(() => viewOf(p, p.shape, contiguousStrides(p.shape), this.size + offsets[i]!));
      p.grad = g;
      p.strides = contiguousStrides(p.shape);
    });
    this.tensors = ordered;
  }

  /** Element pointers of the four regions. */
  get paramsPtr(): number {
    return this.storage.ptr;
  }
  get gradsPtr(): number {
    return this.storage.ptr + this.size;
  }
  get mPtr(): number {
    return this.storage.ptr + 2 * this.size;
  }
  get vPtr(): number {
    return this.storage.ptr + 3 * this.size;
  }

  zeroGrad(): void {
    this.device.kernels.fill(this.gradsPtr, this.size, 0);
  }

  /** L2 norm of all gradients; non-finite when any gradient is NaN or infinite. */
  gradNorm(): number {
    return Math.sqrt(this.device.kernels.sumSquares(this.gradsPtr, this.size));
  }

  /** Multiplies every gradient by s. */
  scaleGrads(s: number): void {
    this.device.kernels.affine(this.gradsPtr, this.gradsPtr, this.size, s, 0);
  }

  /** Copies of the parameter, m and v regions (for checkpoints). */
  snapshot(): { params: Float32Array; m: Float32Array; v: Float32Array } {
    const dev = this.device;
    dev.refreshViews();
    const f = dev.f32;
    return {
      params: f.slice(this.paramsPtr, this.paramsPtr + this.size),
      m: f.slice(this.mPtr, this.mPtr + this.size),
      v: f.slice(this.vPtr, this.vPtr + this.size),
    };
  }

  restore(s: { params: Float32Array; m: Float32Array; v: Float32Array }): void {
    if (s.params.length !== this.size || s.m.length !== this.size || s.v.length !== this.size) {
      throw new Error(`FlatParameters.restore: snapshot has ${s.params.length} elements, the model has ${this.size}`);
    }
    const dev = this.device;
    dev.refreshViews();
    dev.f32.set(s.params, this.paramsPtr);
    dev.f32.set(s.m, this.mPtr);
    dev.f32.set(s.v, this.vPtr);
    markWritten(this.storage);
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = stride;
    stride *= shape[i]!;
  }
  return s;
}
