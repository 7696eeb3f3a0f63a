// Creating tensors from values or distributions, on the default device unless one is given.

import type { Device } from '../backend/device.ts';
import { defaultDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { empty, formatShape, shapeSize, type DType, type Tensor } from './tensor.ts';

export interface CreateOptions {
  device?: Device;
  dtype?: DType;
  requiresGrad?: boolean;
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) {
    if (t.dtype !== 'float32') throw new Error('requiresGrad needs a float32 tensor');
    t.requiresGrad = true;
  }
  return t;
}

type Nested = number | readonly Nested[];

function flatten(data: Nested, shape: number[], out: number[], depth: number): void {
  if (typeof data === 'number') {
    if (depth !== shape.length) throw new Error('tensor(): ragged nested array');
    out.push(data);
    return;
  }
  if (depth === shape.length) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new Error('tensor(): ragged nested array');
  for (const d of data) flatten(d, shape, out, depth + 1);
}

/** A tensor from values: a (nested) number array or a typed array with an explicit shape. */
export function tensor(data: Nested | ArrayLike<number>, shape?: readonly number[], opts: CreateOptions = {}): Tensor {
  let values: ArrayLike<number>;
  let dims: number[];
  if (ArrayBuffer.isView(data) || (shape && Array.isArray(data) && !Array.isArray(data[0]))) {
    values = data as ArrayLike<number>;
    dims = shape ? [...shape] : [values.length];
  } else {
    dims = [];
    const flat: number[] = [];
    flatten(data as Nested, dims, flat, 0);
    values = flat;
    if (shape) {
      if (shapeSize(shape) !== flat.length) throw new Error(`tensor(): ${flat.length} values do not fit shape ${formatShape(shape)}`);
      dims = [...shape];
    }
  }
  if (shapeSize(dims) !== values.length) throw new Error(`tensor(): ${values.length} values do not fit shape ${formatShape(dims)}`);
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  const t = empty(opts.device ?? defaultDevice(), dims, dtype);
  t.set(values);
  return finish(t, opts);
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  const dev = opts.device ?? defaultDevice();
  const t = empty(dev, shape, opts.dtype ?? 'float32');
  if (t.dtype === 'int32') t.unsafeView().fill(value);
  else dev.kernels.fill(t.ptr, t.size, value);
  return finish(t, opts);
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export interface RandomOptions extends CreateOptions {
  /** Seed or generator; the same seed gives the same values on every backend. */
  rng?: Rng | number;
}

function rngOf(opts: RandomOptions): Rng {
  return opts.rng instanceof Rng ? opts.rng : new Rng(opts.rng ?? 0);
}

/** Normal(mean, std) values. */
export function randn(shape: readonly number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const rng = rngOf(opts);
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  const values = new Float32Array(shapeSize(shape));
  for (let i = 0; i < values.length; i++) values[i] = mean + std * rng.normal();
  return tensor(values, shape, { ...opts, dtype: 'float32' });
}

/** Uniform values in [low, high). */
export function rand(shape: readonly number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const rng = rngOf(opts);
  const low = opts.low ?? 0;
  const high = opts.high ?? 1;
  const values = new Float32Array(shapeSize(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * rng.uniform();
  return tensor(values, shape, { ...opts, dtype: 'float32' });
}

/** int32 token ids (or any integers) of the given shape. */
export function ids(values: ArrayLike<number>, shape: readonly number[], opts: CreateOptions = {}): Tensor {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i])) throw new Error(`ids(): value ${values[i]} at index ${i} is not an integer`);
  }
  return tensor(values, shape, { ...opts, dtype: 'int32' });
}
