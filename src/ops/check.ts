// Argument checks shared by the ops: every error names the op and the offending shapes.

import type { Device } from '../backend/device.ts';
import { formatShape, type DType, type Tensor } from '../tensor/tensor.ts';

export function sameDevice(op: string, a: Tensor, b: Tensor): Device {
  if (a.device !== b.device) {
    throw new Error(`${op}: operands live on different devices (${a.device.name} ${formatShape(a.shape)} vs ${b.device.name} ${formatShape(b.shape)}); create them on one device`);
  }
  return a.device;
}

export function expectDtype(op: string, t: Tensor, dtype: DType, what: string): void {
  if (t.dtype !== dtype) throw new Error(`${op}: ${what} must be ${dtype}, got ${t.dtype} tensor of shape ${formatShape(t.shape)}`);
}

export function expectNdim(op: string, t: Tensor, ndim: number, what: string): void {
  if (t.ndim !== ndim) throw new Error(`${op}: ${what} must have ${ndim} dimensions, got shape ${formatShape(t.shape)}`);
}

/** Normalises a possibly negative axis. */
export function normAxis(op: string, axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) throw new Error(`${op}: axis ${axis} is out of range for a ${ndim}-dimensional tensor`);
  return a;
}

/** Broadcast shape of a and b (NumPy rules), or an error naming both shapes. */
export function broadcastShape(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read t as if it had shape `shape` (0 on broadcast dimensions). */
export function broadcastStrides(t: Tensor, shape: readonly number[], out: number[] = []): number[] {
  const n = shape.length;
  out.length = n;
  for (let i = 0; i < n; i++) {
    const j = t.ndim - n + i;
    out[i] = j < 0 || t.shape[j] === 1 ? 0 : t.strides[j]!;
  }
  return out;
}
