// Tensor: a shaped, strided view into a Storage block of device memory. No math lives here; ops
// (src/ops) create tensors and record gradients.
//
// Inside a device scope, Tensor objects come from a per-device pool that is rewound when the scope
// ends, so a training step that runs the same ops every time creates no new Tensor objects.

import { Device, type Storage } from '../backend/device.ts';
import { MAX_DIMS } from '../backend/kernels.ts';

export type DType = 'float32' | 'int32';

/** Autograd's record of the op that produced a tensor (defined by src/autograd). */
export interface GradNode {
  /** Propagates out.grad into the inputs' grads. */
  backward(): void;
}

export class Tensor {
  storage!: Storage;
  /** Element offset of this view inside storage. */
  offset = 0;
  shape: number[] = [];
  strides: number[] = [];
  dtype: DType = 'float32';
  /** Gradients flow into this tensor (parameters, and anything computed from them). */
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it was recorded for backward. */
  gradFn: GradNode | null = null;
  /** Parameters keep their grad across backward calls (gradient accumulation). */
  isParameter = false;
  /** Optional label (parameter names use HF GPT-2 names). */
  name = '';

  get device(): Device {
    return this.storage.device;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return shapeSize(this.shape);
  }

  /** Absolute element index of the first element in device memory. */
  get ptr(): number {
    return this.storage.ptr + this.offset;
  }

  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expected) return false;
      expected *= this.shape[i]!;
    }
    return true;
  }

  /** A copy of the elements in logical (row-major) order. */
  toArray(): Float32Array | Int32Array {
    const dev = this.device;
    dev.refreshViews();
    const src = this.dtype === 'int32' ? dev.i32 : dev.f32;
    const out = this.dtype === 'int32' ? new Int32Array(this.size) : new Float32Array(this.size);
    if (this.isContiguous()) {
      out.set(src.subarray(this.ptr, this.ptr + out.length));
      return out;
    }
    const idx = new Array<number>(this.ndim).fill(0);
    for (let i = 0; i < out.length; i++) {
      let p = this.ptr;
      for (let d = 0; d < idx.length; d++) p += idx[d]! * this.strides[d]!;
      out[i] = src[p]!;
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d]! < this.shape[d]!) break;
        idx[d] = 0;
      }
    }
    return out;
  }

  /** Nested arrays, for printing and tests. */
  toList(): unknown {
    const flat = Array.from(this.toArray());
    const build = (dim: number, start: number): unknown => {
      if (dim === this.ndim) return flat[start];
      const inner = shapeSize(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, start + i * inner));
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item(): expected a tensor with one element, got shape [${this.shape}]`);
    const dev = this.device;
    dev.refreshViews();
    return this.dtype === 'int32' ? dev.i32[this.ptr]! : dev.f32[this.ptr]!;
  }

  /** Writes values (row-major) into a contiguous tensor. */
  set(values: ArrayLike<number>): this {
    if (!this.isContiguous()) throw new Error('set(): the tensor is a non-contiguous view; call contiguous() first');
    if (values.length !== this.size) {
      throw new Error(`set(): got ${values.length} values for a tensor of shape [${this.shape}] (${this.size} elements)`);
    }
    const dev = this.device;
    dev.refreshViews();
    (this.dtype === 'int32' ? dev.i32 : dev.f32).set(values as ArrayLike<number>, this.ptr);
    markWritten(this.storage);
    return this;
  }

  /** A live view of the elements of a contiguous tensor; invalid after the memory grows. */
  unsafeView(): Float32Array | Int32Array {
    if (!this.isContiguous()) throw new Error('unsafeView(): the tensor is a non-contiguous view');
    const dev = this.device;
    dev.refreshViews();
    const src = this.dtype === 'int32' ? dev.i32 : dev.f32;
    return src.subarray(this.ptr, this.ptr + this.size);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}, backend=${this.device.name})`;
  }
}

// ---------------------------------------------------------------- write versions

const writeVersions = new WeakMap<Storage, number>();

/**
 * How often a storage was overwritten in place: by set(), optimizer steps, checkpoint restores,
 * adapter merges, KV-cache writes. A copy derived from a tensor's values (a bf16 weight pack)
 * records it and is stale once it changes. Other ops write only fresh outputs and gradients.
 */
export function writeVersion(s: Storage): number {
  return writeVersions.get(s) ?? 0;
}

/** Records an in-place write into s; every writer of existing tensor memory must call it. */
export function markWritten(s: Storage): void {
  writeVersions.set(s, (writeVersions.get(s) ?? 0) + 1);
}

// ---------------------------------------------------------------- allocation

interface TensorPool {
  items: Tensor[];
  next: number;
}
const pools = new WeakMap<Device, TensorPool>();

function poolFor(device: Device): TensorPool {
  let pool = pools.get(device);
  if (!pool) {
    const created: TensorPool = { items: [], next: 0 };
    device.onScopeEnd(() => {
      for (let i = 0; i < created.next; i++) {
        const t = created.items[i]!;
        t.grad = null;
        t.gradFn = null;
      }
      created.next = 0;
    });
    pools.set(device, created);
    pool = created;
  }
  return pool;
}

/** Tensors created so far outside pools (a steady-state scoped step adds none). */
export let tensorsCreated = 0;

/** A fresh Tensor object (pooled inside a scope) with no storage yet. */
export function newTensorObject(device: Device): Tensor {
  if (device.inScope) {
    const pool = poolFor(device);
    if (pool.next < pool.items.length) {
      const t = pool.items[pool.next++]!;
      t.requiresGrad = false;
      t.isParameter = false;
      t.grad = null;
      t.gradFn = null;
      t.name = '';
      return t;
    }
    tensorsCreated++;
    const t = new Tensor();
    pool.items.push(t);
    pool.next++;
    return t;
  }
  tensorsCreated++;
  return new Tensor();
}

function setShape(t: Tensor, shape: readonly number[]): void {
  if (shape.length > MAX_DIMS) throw new Error(`tensors have at most ${MAX_DIMS} dimensions, got shape [${shape}]`);
  t.shape.length = shape.length;
  t.strides.length = shape.length;
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape}]: dimensions must be non-negative integers`);
    t.shape[i] = d;
    t.strides[i] = stride;
    stride *= d;
  }
}

/** An uninitialised contiguous tensor (callers fill it). */
export function empty(device: Device, shape: readonly number[], dtype: DType = 'float32'): Tensor {
  const t = newTensorObject(device);
  setShape(t, shape);
  t.dtype = dtype;
  t.offset = 0;
  t.storage = device.allocStorage(shapeSize(shape));
  return t;
}

/** A view sharing `base`'s storage with a new shape/strides/offset. */
export function viewOf(base: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  const t = newTensorObject(base.device);
  t.storage = base.storage;
  t.dtype = base.dtype;
  t.offset = offset;
  t.shape.length = shape.length;
  t.strides.length = shape.length;
  for (let i = 0; i < shape.length; i++) {
    t.shape[i] = shape[i]!;
    t.strides[i] = strides[i]!;
  }
  return t;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
