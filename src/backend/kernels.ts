// The kernel table every backend implements. It is the whole contract between the engine and a
// backend: `ref` (plain TypeScript) is its executable specification, `wasm` must agree with it.
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

export enum BinaryOp {
  Add = 0,
  Sub = 1,
  Mul = 2,
  Div = 3,
}

export enum UnaryOp {
  /** GPT-2's tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))) */
  Gelu = 0,
  Relu = 1,
  Tanh = 2,
  Exp = 3,
  Neg = 4,
}

export enum ReduceOp {
  Sum = 0,
  Max = 1,
}

export interface Kernels {
  /** out[0..n) = value */
  fill(out: Ptr, n: number, value: number): void;

  /**
   * Strided copy over `shape`: dst[idx·dstStrides] (+)= src[idx·srcStrides] for every index.
   * Covers contiguous() of a view, and scatter-add of a view's gradient into its base
   * (accumulate = true; dst strides of 0 sum over broadcast dimensions).
   */
  copyStrided(
    src: Ptr,
    srcStrides: readonly number[],
    dst: Ptr,
    dstStrides: readonly number[],
    shape: readonly number[],
    accumulate: boolean,
  ): void;

  /** out (contiguous, `shape`) = a[idx·aStrides] op b[idx·bStrides]; strides 0 broadcast. */
  binary(
    op: BinaryOp,
    a: Ptr,
    aStrides: readonly number[],
    b: Ptr,
    bStrides: readonly number[],
    out: Ptr,
    shape: readonly number[],
  ): void;

  /** out[i] = alpha · x[i] + beta   (scale, shift; out may equal x) */
  affine(x: Ptr, out: Ptr, n: number, alpha: number, beta: number): void;

  /** y[i] += alpha · x[i] */
  axpy(x: Ptr, y: Ptr, n: number, alpha: number): void;

  /** out[i] = f(x[i]) */
  unary(op: UnaryOp, x: Ptr, out: Ptr, n: number): void;

  /** gradX[i] += f'(x[i]) · gradOut[i]   (x is the forward INPUT) */
  unaryBackward(op: UnaryOp, x: Ptr, gradOut: Ptr, gradX: Ptr, n: number): void;

  /**
   * x viewed as (outer, axis, inner): out[o, i] = reduce_k x[o, k, i].
   * For Max, argmax[o, i] (int32) receives k of the first maximum when argmax != 0.
   */
  reduce(op: ReduceOp, x: Ptr, out: Ptr, argmax: Ptr, outer: number, axis: number, inner: number): void;

  /**
   * Batched GEMM: for each b < batch,
   *   C_b (M×N) = op(A_b) · op(B_b) (+ C_b when accumulate) (+ bias broadcast over rows when bias != 0)
   * op(A) is M×K: A stored M×K (lda = K), or K×M when transA.
   * op(B) is K×N: B stored K×N (ldb = N), or N×K when transB.
   * C stored M×N. strideA/B/C are the batch strides in elements; 0 broadcasts one matrix.
   */
  matmul(
    a: Ptr,
    b: Ptr,
    c: Ptr,
    bias: Ptr,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    strideA: number,
    strideB: number,
    strideC: number,
    accumulate: boolean,
  ): void;

  /**
   * Weights for bf16 decoding, which streams half the bytes of fp32 per token. dst receives the
   * rows × cols row-major float32 matrix src rounded to bfloat16 (nearest, ties to even; NaN stays
   * NaN) as 16-bit values, two per 4-byte element (little-endian: value e at byte 4·dst + 2·e);
   * element (r, c) is value r·cols + c, or c·rows + r when transpose (then the packed matrix is
   * cols × rows). dst holds ceil(rows·cols / 2) elements.
   */
  packBf16(src: Ptr, dst: Ptr, rows: number, cols: number, transpose: boolean): void;

  /**
   * C (M×N) = bf16(A) · Bp (+ bias broadcast over rows when bias != 0), fp32 accumulation, with A
   * M×K float32 and Bp a K×N matrix packBf16 wrote: the numerics of a bf16-precision matmul with
   * the matrix Bp was packed from.
   */
  matmulBf16(a: Ptr, bPacked: Ptr, c: Ptr, bias: Ptr, m: number, n: number, k: number): void;

  /** out[r, :] = table[ids[r], :] for r < rows (ids int32, each in [0, vocab)) */
  embeddingForward(table: Ptr, ids: Ptr, out: Ptr, rows: number, dim: number): void;
  /** gradTable[ids[r], :] += gradOut[r, :] */
  embeddingBackward(ids: Ptr, gradOut: Ptr, gradTable: Ptr, rows: number, dim: number): void;

  /**
   * out = (x - mean) · rstd · gamma + beta per row; saves mean[r] and rstd[r] = 1/sqrt(var + eps)
   * (biased variance, as PyTorch).
   */
  layerNormForward(
    x: Ptr,
    gamma: Ptr,
    beta: Ptr,
    out: Ptr,
    mean: Ptr,
    rstd: Ptr,
    rows: number,
    dim: number,
    eps: number,
  ): void;
  layerNormBackward(
    x: Ptr,
    gamma: Ptr,
    mean: Ptr,
    rstd: Ptr,
    gradOut: Ptr,
    gradX: Ptr,
    gradGamma: Ptr,
    gradBeta: Ptr,
    rows: number,
    dim: number,
  ): void;

  /** Softmax over the last dimension of a (rows, dim) array. */
  softmaxForward(x: Ptr, out: Ptr, rows: number, dim: number): void;
  /** gradX += y ⊙ (gradOut − Σ gradOut ⊙ y), y = softmax output */
  softmaxBackward(y: Ptr, gradOut: Ptr, gradX: Ptr, rows: number, dim: number): void;

  /**
   * Fused causal attention, never materialising the mask:
   *   out[b,h,i,:] = Σ_j softmax_j(scale · q[b,h,i]·k[b,h,j]) v[b,h,j]  over j <= i + causalOffset
   * (causalOffset = tk - tq when the queries are the last tq of tk positions, as with a KV cache).
   * q/out index (b, h, t) through their `strides` [sb, sh, st] with the head dimension contiguous;
   * k and v likewise. lse (b, h, tq) contiguous receives each row's log-sum-exp of the scaled scores.
   */
  attentionForward(p: AttentionArgs, out: Ptr, outStrides: readonly number[], lse: Ptr): void;
  /**
   * Gradients of attentionForward; gradQ (b,h,tq,d), gradK and gradV (b,h,tk,d) are contiguous and
   * accumulated into. gradOut is indexed (b, h, t) through its own strides [sb, sh, st] (it is
   * usually contiguous (b,h,tq,d) while out is stored (b,tq,h,d)).
   */
  attentionBackward(
    p: AttentionArgs,
    out: Ptr,
    outStrides: readonly number[],
    lse: Ptr,
    gradOut: Ptr,
    gradOutStrides: readonly number[],
    gradQ: Ptr,
    gradK: Ptr,
    gradV: Ptr,
  ): void;

  /**
   * Per-row cross-entropy of softmax(logits) against int32 targets:
   * losses[r] = logsumexp(logits[r]) − logits[r, targets[r]], and lse[r] = logsumexp(logits[r]);
   * rows whose target equals ignoreIndex get loss 0. Targets outside [0, vocab) other than
   * ignoreIndex must be rejected by the caller.
   */
  crossEntropyForward(
    logits: Ptr,
    targets: Ptr,
    losses: Ptr,
    lse: Ptr,
    rows: number,
    vocab: number,
    ignoreIndex: number,
  ): void;
  /** gradLogits[r] += scale · (softmax(logits[r]) − onehot(targets[r])), skipping ignored rows */
  crossEntropyBackward(
    logits: Ptr,
    targets: Ptr,
    lse: Ptr,
    gradLogits: Ptr,
    rows: number,
    vocab: number,
    ignoreIndex: number,
    scale: number,
  ): void;

  /**
   * Inverted dropout with a counter-based RNG, so the mask is a pure function of
   * (seed, offset + i) and backward regenerates it instead of storing it:
   * keep(i) = dropoutUniform(seed, offset + i) >= p;  out[i] = keep ? x[i] / (1 − p) : 0.
   */
  dropoutForward(x: Ptr, out: Ptr, n: number, p: number, seed: number, offset: number): void;
  /** gradX[i] += keep(i) ? gradOut[i] / (1 − p) : 0 */
  dropoutBackward(gradOut: Ptr, gradX: Ptr, n: number, p: number, seed: number, offset: number): void;

  /**
   * One AdamW step (decoupled weight decay) over n contiguous parameters:
   *   m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²
   *   p -= lr · ( (m / bc1) / (sqrt(v / bc2) + eps) + weightDecay · p )
   * bc1 = 1 − β1^t and bc2 = 1 − β2^t are passed in (t = step number, from 1).
   */
  adamw(
    param: Ptr,
    grad: Ptr,
    m: Ptr,
    v: Ptr,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    bc1: number,
    bc2: number,
  ): void;

  /** Σ x[i]² accumulated in float64; NaN/Inf anywhere makes the result non-finite. */
  sumSquares(x: Ptr, n: number): number;
}

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
}
