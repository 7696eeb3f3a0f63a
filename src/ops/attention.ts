// Fused causal self-attention: softmax(scale · Q Kᵀ) V with the causal mask (and an optional
// sliding window) applied by index arithmetic, never materialised. q/k/v are read through their
// strides, so heads split out of a packed qkv projection (a slice + reshape + permute view) are
// consumed in place without copies; with grouped-query attention the kernel maps each query head
// to its kv head the same way.

import { gradOf, record, type Node } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import type { AttentionArgs } from '../backend/kernels.ts';
import { empty, formatShape, viewOf, type Tensor } from '../tensor/tensor.ts';
import { expectDtype, sameDevice } from './check.ts';
import { contiguous, permute, reshape, slice } from './views.ts';

export interface AttentionOptions {
  /** Multiplier of the scores (default 1/√headDim). */
  scale?: number;
  /**
   * Causal (default): query i sees keys up to its own position. false: every query sees every
   * key — encoder self-attention and encoder–decoder cross-attention.
   */
  causal?: boolean;
  /**
   * Sliding window (causal only; 0 or absent: none): the query at position p sees keys
   * p − window < j <= p, as Mistral's and Qwen2's `sliding_window`. Works with a KV cache holding
   * every position: the positions behind the window are masked, not dropped.
   */
  window?: number;
}

/**
 * Columns [from, from + C) of a packed projection (B, T, ≥ from + C) as H heads: a (B, H, T, C/H)
 * view, no copy; attention() reads it through its strides.
 */
export function splitHeads(x: Tensor, from: number, C: number, H: number): Tensor {
  const [B, T] = x.shape as [number, number];
  return permute(reshape(slice(x, 2, from, from + C), [B, T, H, C / H]), [0, 2, 1, 3]);
}

/** attention()'s (B, H, T, D) output as (B, T, H·D): free, its storage is already (B, T, H, D). */
export function mergeHeads(y: Tensor): Tensor {
  const [B, H, T, D] = y.shape as [number, number, number, number];
  return reshape(permute(y, [0, 2, 1, 3]), [B, T, H * D]);
}

/** Tensors whose head dimension is strided are copied to row-major first. */
function headContiguous(t: Tensor): Tensor {
  return t.strides[3] === 1 ? t : contiguous(t);
}

function argsOf(q: Tensor, k: Tensor, v: Tensor, scale: number, causal: boolean, window: number, into: AttentionArgs): AttentionArgs {
  into.q = q.ptr;
  into.k = k.ptr;
  into.v = v.ptr;
  into.qStrides = q.strides.slice(0, 3);
  into.kStrides = k.strides.slice(0, 3);
  into.vStrides = v.strides.slice(0, 3);
  into.batch = q.shape[0]!;
  into.heads = q.shape[1]!;
  into.tq = q.shape[2]!;
  into.tk = k.shape[2]!;
  into.headDim = q.shape[3]!;
  into.scale = scale;
  // Query i sees keys j <= i + causalOffset; an offset of tk makes every key visible.
  into.causalOffset = causal ? into.tk - into.tq : into.tk;
  into.kvGroup = into.heads / k.shape[1]!;
  into.window = window;
  return into;
}

/**
 * Attention over q (B, H, Tq, D) and k, v (B, H, Tk, D), or (B, Hkv, Tk, D) with Hkv dividing H:
 * grouped-query attention, each kv head serving H / Hkv consecutive query heads, read in place by
 * the kernel (no repeated copy of K and V). Causal (the default) needs Tq <= Tk: query i
 * is the (Tk − Tq + i)-th position and sees keys 0..Tk−Tq+i (the KV-cache case when Tq < Tk).
 * Returns (B, H, Tq, D) as a view of a (B, Tq, H, D) buffer, so permuting back to (B, Tq, H·D)
 * is free.
 */
export function attention(qIn: Tensor, kIn: Tensor, vIn: Tensor, opts: AttentionOptions = {}): Tensor {
  const dev = sameDevice('attention', qIn, kIn);
  sameDevice('attention', qIn, vIn);
  for (const [t, name] of [[qIn, 'q'], [kIn, 'k'], [vIn, 'v']] as const) {
    expectDtype('attention', t, 'float32', name);
    if (t.ndim !== 4) throw new Error(`attention: ${name} must be (batch, heads, time, headDim), got ${formatShape(t.shape)}`);
  }
  const [b, h, tq, d] = qIn.shape as [number, number, number, number];
  const tk = kIn.shape[2]!;
  const kvHeads = kIn.shape[1]!;
  if (kvHeads <= 0 || h % kvHeads !== 0 || kIn.shape[0] !== b || kIn.shape[3] !== d || vIn.shape[0] !== b || vIn.shape[1] !== kvHeads || vIn.shape[2] !== tk || vIn.shape[3] !== d) {
    throw new Error(`attention: shapes q ${formatShape(qIn.shape)}, k ${formatShape(kIn.shape)}, v ${formatShape(vIn.shape)} do not match`);
  }
  const causal = opts.causal ?? true;
  if (causal && tq > tk) throw new Error(`attention: more queries (${tq}) than keys (${tk}); causal attention needs Tq <= Tk`);
  const window = opts.window ?? 0;
  if (!Number.isSafeInteger(window) || window < 0) throw new Error(`attention: window ${window} must be a non-negative integer (0 for no window)`);
  if (window > 0 && !causal) throw new Error(`attention: a sliding window (${window}) needs causal attention; drop causal: false or the window`);
  const q = headContiguous(qIn);
  const k = headContiguous(kIn);
  const v = headContiguous(vIn);
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const stored = empty(dev, [b, tq, h, d]);
  const out = viewOf(stored, [b, h, tq, d], [tq * h * d, d, h * d, 1], stored.offset);
  const lse = empty(dev, [b, h, tq]);
  const args = argsOf(q, k, v, scale, causal, window, {} as AttentionArgs);
  dev.kernels.attentionForward(args, out.ptr, out.strides.slice(0, 3), lse.ptr);
  const node = record(attentionBackward, out, q, k, v);
  if (node) {
    node.s0 = lse;
    node.n0 = scale;
    node.n1 = causal ? 1 : 0;
    node.n2 = window;
  }
  return out;
}

function attentionBackward(node: Node): void {
  const q = node.a!;
  const k = node.b!;
  const v = node.c!;
  const out = node.out;
  const g = out.grad!;
  const dev = out.device;
  // The kernel produces all three gradients (contiguous); map them onto strided inputs if needed.
  const gq = contiguousGrad(q);
  const args = argsOf(q, k, v, node.n0, node.n1 === 1, node.n2, {} as AttentionArgs);
  const group = args.kvGroup!;
  // With grouped-query attention the kernel writes gradK/gradV per query head; the group's rows
  // are summed into the kv head's gradient afterwards.
  const gk = group === 1 ? contiguousGrad(k) : zeroed(dev, [q.shape[0]!, q.shape[1]!, k.shape[2]!, k.shape[3]!]);
  const gv = group === 1 ? contiguousGrad(v) : zeroed(dev, [q.shape[0]!, q.shape[1]!, v.shape[2]!, v.shape[3]!]);
  dev.kernels.attentionBackward(args, out.ptr, out.strides.slice(0, 3), node.s0!.ptr, g.ptr, g.strides.slice(0, 3), gq.ptr, gk.ptr, gv.ptr);
  if (group === 1) return;
  for (const [t, perHead] of [[k, gk], [v, gv]] as const) {
    if (!t.requiresGrad) continue;
    const dst = gradOf(t);
    const [b, hkv, tk, d] = dst.shape as [number, number, number, number];
    const shape = [b, hkv, group, tk, d];
    const src = [hkv * group * tk * d, group * tk * d, tk * d, d, 1];
    dev.kernels.copyStrided(perHead.ptr, src, dst.ptr, [dst.strides[0]!, dst.strides[1]!, 0, dst.strides[2]!, dst.strides[3]!], shape, true);
  }
}

function zeroed(dev: Device, shape: readonly number[]): Tensor {
  const t = empty(dev, shape);
  dev.kernels.fill(t.ptr, t.size, 0);
  return t;
}

/** t's gradient buffer, or a zeroed scratch one when t needs no gradient. */
function contiguousGrad(t: Tensor): Tensor {
  return t.requiresGrad ? gradOf(t) : zeroed(t.device, t.shape);
}
