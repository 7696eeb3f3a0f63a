// The types and conventions the kernel spec refers to: both the generated kernel table
// (kernels.gen.ts) and the hand-written kernels.ts import them from here, so neither imports the other.
//
// Conventions shared by every kernel:
// - A `Ptr` is an element index (4-byte units) into the backend's linear memory; float32 and int32
//   tensors both use 4-byte elements. Ptr 0 is never handed out by the allocator, so 0 means "none".
// - Unless a kernel says otherwise, arrays are contiguous row-major.
// - Backward kernels ACCUMULATE into their gradient outputs (grad += ...), like llm.c: gradients
//   are zeroed when allocated, and one tensor used twice simply receives two contributions.
// - `shape`/`strides` arguments are plain number arrays of length ndim <= MAX_DIMS; strides are in
//   elements and may be 0 (broadcast) or arbitrary (views).

export type Ptr = number;

export const MAX_DIMS = 8;

/** Operands of the attention kernels: q (b,h,tq,d), k and v (b,h,tk,d), strides [sb, sh, st]. */
export interface AttentionArgs {
  q: Ptr;
  k: Ptr;
  v: Ptr;
  qStrides: readonly number[];
  kStrides: readonly number[];
  vStrides: readonly number[];
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  headDim: number;
  scale: number;
  causalOffset: number;
  /**
   * Query heads per key/value head (grouped-query attention; default 1): query head h reads kv
   * head floor(h / kvGroup), and kStrides/vStrides index kv heads. Backward still writes gradK and
   * gradV per query head (b, heads, tk, d), so parts never share a row; the caller sums the groups.
   */
  kvGroup?: number;
  /**
   * Sliding window (default 0, none): query i, at key position p = i + causalOffset, sees only the
   * keys j with p − window < j <= p (Mistral's and Qwen2's `sliding_window`).
   */
  window?: number;
}

/** p.kvGroup (default 1), checked: a positive integer dividing the query heads. */
export function kvGroupOf(kernel: string, p: AttentionArgs): number {
  const g = p.kvGroup ?? 1;
  if (!Number.isInteger(g) || g < 1 || p.heads % g !== 0) throw new Error(`${kernel}: kvGroup ${g} must be a positive integer dividing the ${p.heads} query heads`);
  return g;
}

/** p.window (default 0, no window), checked: a non-negative integer. */
export function windowOf(kernel: string, p: AttentionArgs): number {
  const w = p.window ?? 0;
  if (!Number.isSafeInteger(w) || w < 0) throw new Error(`${kernel}: window ${w} must be a non-negative integer (0 for no window)`);
  return w;
}

/**
 * The keys query i sees, [first, last] (empty when last < first): j <= i + causalOffset, and with
 * a window j > i + causalOffset − window, within [0, tk).
 */
export function visibleKeys(p: AttentionArgs, window: number, i: number): [first: number, last: number] {
  const pos = i + p.causalOffset;
  return [window > 0 ? Math.max(0, pos - window + 1) : 0, Math.min(p.tk - 1, pos)];
}
