// The kernel spec: the one table every backend's kernel plumbing is generated from. Each kernel
// has a name, typed arguments, which backends implement it, and the facts the generated wrappers
// need (when a call is empty, how far each pointer reaches, how the wasm pool may split it).
// scripts/gen-kernels.ts turns it into the Kernels interface and enums (kernels.gen.ts), the wasm
// and native wrappers that check and pack arguments (wasm/wasm-kernels.gen.ts,
// native/native-kernels.gen.ts), the AssemblyScript entry and enums (kernels/index.ts,
// kernels/enums.ts) and the C++ ids, enums and dispatch table (native/src/kernels.gen.h,
// native/src/k_table.cc). See docs/add-an-op.md.
//
// Arguments reach a kernel body in the order listed here, after (part, parts) in AssemblyScript
// and as a[0], a[1], ... in C++, unless the backend is listed in `manual` (its wrapper packs them
// by hand; kernels with array or struct arguments always are).
//
// Expressions (skipIf, extent, require, split) are TypeScript over the argument names; they are
// pasted into the generated wrappers, so tsc checks them there.

import type { BackendName } from './device.ts';
import type { AttentionArgs } from './kernel-types.ts';

export type ArgKind =
  | 'ptr' // element index into the device memory (0 = none where `optional`)
  | 'int' // integer count or offset
  | 'u32' // integer passed as unsigned 32 bits (RNG seeds and counters)
  | 'float' // float32 or float64 scalar (the body decides)
  | 'bool'
  | 'enum' // an id of one of ENUMS
  | 'dims' // shape or strides array of length <= MAX_DIMS
  | 'attention'; // the AttentionArgs struct

export interface ArgSpec {
  name: string;
  kind: ArgKind;
  /** ptr: elements the kernel may touch from it (an expression); the native wrapper checks it. */
  extent?: string;
  /** ptr: 0 means "none" and is not checked. */
  optional?: boolean;
  /** ptr: how error messages name it (default: its name). */
  label?: string;
  /** enum: which enum. */
  enumName?: EnumName;
}

/** How much work a call is, for the wasm pool's decision to split it across threads. */
export interface SplitSpec {
  /** Units of work (elements, or multiply-adds for 'macs'). */
  work: string;
  /** stream: memory-bound elementwise; heavy: transcendental or row math; macs: multiply-adds. */
  cost: 'stream' | 'heavy' | 'macs';
  /** Independent pieces the call can be cut into. */
  units: string;
}

export type AsModule = 'elementwise' | 'rows' | 'matmul' | 'bf16' | 'q8' | 'attention';

export interface KernelSpec {
  name: string;
  doc: string;
  args: readonly ArgSpec[];
  returns?: 'number';
  /** Calls for which this holds do nothing (and return 0). */
  skipIf?: string;
  /** [condition that must hold, message] checks of the optimised backends' wrappers. */
  require?: readonly (readonly [string, string])[];
  /** Wasm pool split (needed unless wasm is manual). */
  split?: SplitSpec;
  /** The AssemblyScript module (kernels/<as>.ts) holding the wasm body. */
  as: AsModule;
  /** Backends whose wrapper is hand-written (wasm-kernels.ts, native-kernels.ts). */
  manual?: readonly ('wasm' | 'native')[];
  /** Backends implementing it (default: all). */
  backends?: readonly BackendName[];
}

const ptr = (name: string, extent?: string, opts: { optional?: boolean; label?: string } = {}): ArgSpec => ({
  name,
  kind: 'ptr',
  ...(extent !== undefined ? { extent } : {}),
  ...opts,
});
const int = (name: string): ArgSpec => ({ name, kind: 'int' });
const u32 = (name: string): ArgSpec => ({ name, kind: 'u32' });
const float = (name: string): ArgSpec => ({ name, kind: 'float' });
const bool = (name: string): ArgSpec => ({ name, kind: 'bool' });
const dims = (name: string): ArgSpec => ({ name, kind: 'dims' });
const op = (name: string, enumName: EnumName): ArgSpec => ({ name, kind: 'enum', enumName });

/**
 * An activation: its float64 definition is what the ref backend computes and what every backend
 * is tested against (src/backend/kernel-spec.test.ts), the derivative checked by finite
 * differences.
 */
export interface Activation {
  name: string;
  doc?: string;
  f: (x: number) => number;
  /** f'(x) */
  df: (x: number) => number;
  /** Test inputs are normal samples times this (where the function is interesting). */
  sampleScale: number;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** UnaryOp, in id order. */
export const ACTIVATIONS: readonly Activation[] = [
  {
    name: 'Gelu',
    doc: "GPT-2's tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))",
    f: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x))),
    df: (x) => {
      const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
    },
    sampleScale: 3,
  },
  // relu'(0) = 0, as PyTorch.
  { name: 'Relu', f: (x) => (x > 0 ? x : 0), df: (x) => (x > 0 ? 1 : 0), sampleScale: 1 },
  {
    name: 'Tanh',
    f: Math.tanh,
    df: (x) => {
      const t = Math.tanh(x);
      return 1 - t * t;
    },
    sampleScale: 2,
  },
  { name: 'Exp', f: Math.exp, df: Math.exp, sampleScale: 2 },
  { name: 'Neg', f: (x) => -x, df: () => -1, sampleScale: 1 },
  {
    name: 'Silu',
    doc: 'x · sigmoid(x), the gate activation of SwiGLU MLPs (Llama, Mistral, Qwen)',
    f: (x) => x / (1 + Math.exp(-x)),
    df: (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    },
    sampleScale: 3,
  },
];

export interface EnumSpec {
  name: string;
  doc: string;
  members: readonly { name: string; doc?: string }[];
}

export const ENUMS = [
  { name: 'BinaryOp', doc: 'Elementwise arithmetic of `binary`.', members: [{ name: 'Add' }, { name: 'Sub' }, { name: 'Mul' }, { name: 'Div' }] },
  { name: 'UnaryOp', doc: 'Activations of `unary` and `unaryBackward` (see ACTIVATIONS).', members: ACTIVATIONS },
  { name: 'ReduceOp', doc: 'Reductions of `reduce`.', members: [{ name: 'Sum' }, { name: 'Max' }] },
] as const satisfies readonly EnumSpec[];

export type EnumName = (typeof ENUMS)[number]['name'];

const ELEMS = { work: 'n', cost: 'stream', units: 'n >> 4' } as const;

/** Arguments, checks and split of both RoPE kernels: (rows, heads, dim) in and out, cos/sin tables by position. */
function ropeLayout(input: string, output: string): Pick<KernelSpec, 'args' | 'skipIf' | 'require' | 'split' | 'as'> {
  const table = '(offset + Math.min(seq, rows)) * (dim >> 1)';
  return {
    args: [ptr(input, 'rows * heads * dim'), ptr('cos', table), ptr('sin', table), ptr(output, 'rows * heads * dim'), int('rows'), int('seq'), int('heads'), int('dim'), int('offset')],
    skipIf: 'rows <= 0 || heads <= 0 || dim <= 0',
    require: [
      ['dim % 2 === 0', 'rope needs an even head dimension, got ${dim}'],
      ['seq > 0 && offset >= 0', 'rope needs seq > 0 and offset >= 0, got seq ${seq}, offset ${offset}'],
    ],
    split: { work: 'rows * heads * dim', cost: 'stream', units: 'rows' },
    as: 'rows',
  };
}

/** A (m×k) float32 times a packed weight (bf16 or q8_0 words at bPacked), optional bias, into C (m×n). */
function packedMatmulArgs(packedLabel: string, packedWords: string): KernelSpec['args'] {
  return [ptr('a', 'm * k', { label: 'A' }), ptr('bPacked', packedWords, { label: packedLabel }), ptr('c', 'm * n', { label: 'C' }), ptr('bias', 'n', { optional: true }), int('m'), int('n'), int('k')];
}

export const KERNELS: readonly KernelSpec[] = [
  {
    name: 'fill',
    doc: 'out[0..n) = value',
    args: [ptr('out', 'n'), int('n'), float('value')],
    skipIf: 'n <= 0',
    split: ELEMS,
    as: 'elementwise',
  },
  {
    name: 'copyStrided',
    doc: `Strided copy over \`shape\`: dst[idx·dstStrides] (+)= src[idx·srcStrides] for every index.
Covers contiguous() of a view, and scatter-add of a view's gradient into its base
(accumulate = true; dst strides of 0 sum over broadcast dimensions).`,
    args: [ptr('src'), dims('srcStrides'), ptr('dst'), dims('dstStrides'), dims('shape'), bool('accumulate')],
    as: 'elementwise',
  },
  {
    name: 'binary',
    doc: 'out (contiguous, `shape`) = a[idx·aStrides] op b[idx·bStrides]; strides 0 broadcast.',
    args: [op('op', 'BinaryOp'), ptr('a'), dims('aStrides'), ptr('b'), dims('bStrides'), ptr('out'), dims('shape')],
    as: 'elementwise',
  },
  {
    name: 'affine',
    doc: 'out[i] = alpha · x[i] + beta   (scale, shift; out may equal x)',
    args: [ptr('x', 'n'), ptr('out', 'n'), int('n'), float('alpha'), float('beta')],
    skipIf: 'n <= 0',
    split: ELEMS,
    as: 'elementwise',
  },
  {
    name: 'axpy',
    doc: 'y[i] += alpha · x[i]',
    args: [ptr('x', 'n'), ptr('y', 'n'), int('n'), float('alpha')],
    skipIf: 'n <= 0',
    split: ELEMS,
    as: 'elementwise',
  },
  {
    name: 'unary',
    doc: 'out[i] = f(x[i])',
    args: [op('op', 'UnaryOp'), ptr('x', 'n'), ptr('out', 'n'), int('n')],
    skipIf: 'n <= 0',
    split: { ...ELEMS, cost: 'heavy' },
    as: 'elementwise',
  },
  {
    name: 'unaryBackward',
    doc: "gradX[i] += f'(x[i]) · gradOut[i]   (x is the forward INPUT)",
    args: [op('op', 'UnaryOp'), ptr('x', 'n'), ptr('gradOut', 'n'), ptr('gradX', 'n'), int('n')],
    skipIf: 'n <= 0',
    split: { ...ELEMS, cost: 'heavy' },
    as: 'elementwise',
  },
  {
    name: 'swigluForward',
    doc: 'out[i] = silu(gate[i]) · up[i], the SwiGLU MLP product without a stored silu(gate)',
    args: [ptr('gate', 'n'), ptr('up', 'n'), ptr('out', 'n'), int('n')],
    skipIf: 'n <= 0',
    split: { ...ELEMS, cost: 'heavy' },
    as: 'elementwise',
  },
  {
    name: 'swigluBackward',
    doc: `gradGate[i] += silu'(gate[i]) · up[i] · gradOut[i] and gradUp[i] += silu(gate[i]) · gradOut[i]
(silu recomputed from gate); either gradient may be 0 (not wanted).`,
    args: [
      ptr('gate', 'n'),
      ptr('up', 'n'),
      ptr('gradOut', 'n'),
      ptr('gradGate', 'n', { optional: true }),
      ptr('gradUp', 'n', { optional: true }),
      int('n'),
    ],
    skipIf: 'n <= 0',
    split: { ...ELEMS, cost: 'heavy' },
    as: 'elementwise',
  },
  {
    name: 'reduce',
    doc: `x viewed as (outer, axis, inner): out[o, i] = reduce_k x[o, k, i].
For Max, argmax[o, i] (int32) receives k of the first maximum when argmax != 0.`,
    args: [
      op('op', 'ReduceOp'),
      ptr('x', 'outer * axis * inner'),
      ptr('out', 'outer * inner'),
      ptr('argmax', 'outer * inner', { optional: true }),
      int('outer'),
      int('axis'),
      int('inner'),
    ],
    skipIf: 'outer <= 0 || inner <= 0',
    split: { work: 'outer * axis * inner', cost: 'stream', units: 'outer * Math.ceil(inner / 64)' },
    as: 'rows',
  },
  {
    name: 'matmul',
    doc: `Batched GEMM: for each b < batch,
  C_b (M×N) = op(A_b) · op(B_b) (+ C_b when accumulate) (+ bias broadcast over rows when bias != 0)
op(A) is M×K: A stored M×K (lda = K), or K×M when transA.
op(B) is K×N: B stored K×N (ldb = N), or N×K when transB.
C stored M×N. strideA/B/C are the batch strides in elements; 0 broadcasts one matrix.`,
    args: [
      ptr('a', 'k > 0 ? (batch - 1) * strideA + m * k : 0', { label: 'A' }),
      ptr('b', 'k > 0 ? (batch - 1) * strideB + k * n : 0', { label: 'B' }),
      ptr('c', '(batch - 1) * strideC + m * n', { label: 'C' }),
      ptr('bias', 'n', { optional: true }),
      int('batch'),
      int('m'),
      int('n'),
      int('k'),
      bool('transA'),
      bool('transB'),
      int('strideA'),
      int('strideB'),
      int('strideC'),
      bool('accumulate'),
    ],
    skipIf: 'batch <= 0 || m <= 0 || n <= 0',
    split: {
      work: 'batch * m * n * Math.max(k, 1)',
      cost: 'macs',
      units: 'Math.max(strideC !== 0 ? batch : 1, Math.ceil(m / 4), Math.ceil(n / 8))',
    },
    as: 'matmul',
  },
  {
    name: 'packBf16',
    doc: `Weights for bf16 decoding, which streams half the bytes of fp32 per token. dst receives the
rows × cols row-major float32 matrix src rounded to bfloat16 (nearest, ties to even; NaN stays
NaN) as 16-bit values, two per 4-byte element (little-endian: value e at byte 4·dst + 2·e);
element (r, c) is value r·cols + c, or c·rows + r when transpose (then the packed matrix is
cols × rows). dst holds ceil(rows·cols / 2) elements.`,
    args: [ptr('src', 'rows * cols'), ptr('dst', 'Math.ceil((rows * cols) / 2)'), int('rows'), int('cols'), bool('transpose')],
    skipIf: 'rows <= 0 || cols <= 0',
    // Parts own 16-value chunks of the packed values, or (transposed) 16 packed rows each.
    split: { work: 'rows * cols', cost: 'stream', units: 'transpose ? Math.ceil(cols / 16) : Math.ceil((rows * cols) / 16)' },
    as: 'bf16',
  },
  {
    name: 'matmulBf16',
    doc: `C (M×N) = bf16(A) · Bp (+ bias broadcast over rows when bias != 0), fp32 accumulation, with A
M×K float32 and Bp a K×N matrix packBf16 wrote: the numerics of a bf16-precision matmul with
the matrix Bp was packed from.`,
    args: packedMatmulArgs('packed B', 'Math.ceil((k * n) / 2)'),
    skipIf: 'm <= 0 || n <= 0',
    // Parts own 16-column slices of C (see kernels/bf16.ts), so any m splits, even m = 1.
    split: { work: 'm * n * Math.max(k, 1)', cost: 'macs', units: 'Math.ceil(n / 16)' },
    as: 'bf16',
  },
  {
    name: 'matmulQ8',
    doc: `C (M×N) = A · Wᵀ (+ bias broadcast over rows when bias != 0) with A M×K float32 and W the N×K
matrix of q8_0 blocks at bPacked (src/backend/q8-0.ts): row j is ceil(K / 32) blocks of 34 bytes (an
IEEE half scale d, then 32 int8 q; W[j, p] = q · d), rows one after another from byte 4·bPacked. A
last block of a row holds K mod 32 values when K is not a multiple of 32 (its other q are 0).
Weight-only int8, computed from the blocks with fp32 accumulation; ref and native multiply the
fp32 activations, wasm rounds each 32-value block of a row of A to int16 first (an error of at
most 2^-16 of the block's largest |a|) to use integer dot products.`,
    args: packedMatmulArgs('packed W', 'Math.ceil((n * Math.ceil(k / 32) * 34) / 4)'),
    skipIf: 'm <= 0 || n <= 0',
    // wasm rounds a row of A into its thread's scratch (68 bytes per block).
    require: [['k <= 262144', 'packed rows of at most 262144 inputs are supported, got ${k}; split the product along k']],
    // Parts own 16-column slices of C (see kernels/q8.ts), so any m splits, even m = 1.
    split: { work: 'm * n * Math.max(k, 1)', cost: 'macs', units: 'Math.ceil(n / 16)' },
    as: 'q8',
  },
  {
    name: 'embeddingForward',
    doc: 'out[r, :] = table[ids[r], :] for r < rows (ids int32, each in [0, vocab))',
    args: [ptr('table'), ptr('ids', 'rows'), ptr('out', 'rows * dim'), int('rows'), int('dim')],
    skipIf: 'rows <= 0 || dim <= 0',
    split: { work: 'rows * dim', cost: 'stream', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'embeddingBackward',
    doc: 'gradTable[ids[r], :] += gradOut[r, :]',
    args: [ptr('ids', 'rows'), ptr('gradOut', 'rows * dim'), ptr('gradTable'), int('rows'), int('dim')],
    skipIf: 'rows <= 0 || dim <= 0',
    // Parts own column ranges (repeated ids would race on rows).
    split: { work: 'rows * dim', cost: 'stream', units: 'dim >> 2' },
    as: 'rows',
  },
  {
    name: 'layerNormForward',
    doc: `out = (x - mean) · rstd · gamma + beta per row; saves mean[r] and rstd[r] = 1/sqrt(var + eps)
(biased variance, as PyTorch).`,
    args: [
      ptr('x', 'rows * dim'),
      ptr('gamma', 'dim'),
      ptr('beta', 'dim'),
      ptr('out', 'rows * dim'),
      ptr('mean', 'rows'),
      ptr('rstd', 'rows'),
      int('rows'),
      int('dim'),
      float('eps'),
    ],
    skipIf: 'rows <= 0 || dim <= 0',
    split: { work: 'rows * dim', cost: 'heavy', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'layerNormBackward',
    doc: 'Gradients of layerNormForward, accumulated into gradX, gradGamma and gradBeta.',
    args: [
      ptr('x', 'rows * dim'),
      ptr('gamma', 'dim'),
      ptr('mean', 'rows'),
      ptr('rstd', 'rows'),
      ptr('gradOut', 'rows * dim'),
      ptr('gradX', 'rows * dim'),
      ptr('gradGamma', 'dim'),
      ptr('gradBeta', 'dim'),
      int('rows'),
      int('dim'),
    ],
    skipIf: 'rows <= 0 || dim <= 0',
    // wasm: parts need partial sums of gradGamma/gradBeta, reduced after the call.
    manual: ['wasm'],
    as: 'rows',
  },
  {
    name: 'rmsNormForward',
    doc: `RMSNorm per row: out = x · rstd · gamma, saving rstd[r] = 1/sqrt(mean(x²) + eps).`,
    args: [ptr('x', 'rows * dim'), ptr('gamma', 'dim'), ptr('out', 'rows * dim'), ptr('rstd', 'rows'), int('rows'), int('dim'), float('eps')],
    skipIf: 'rows <= 0 || dim <= 0',
    split: { work: 'rows * dim', cost: 'heavy', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'rmsNormBackward',
    doc: `gradX of rmsNormForward, accumulated: gradX += rstd · (dxhat − xhat · mean(dxhat · xhat)) with
xhat = x · rstd and dxhat = gradOut · gamma. gamma's gradient is rmsNormGammaBackward's.`,
    args: [
      ptr('x', 'rows * dim'),
      ptr('gamma', 'dim'),
      ptr('rstd', 'rows'),
      ptr('gradOut', 'rows * dim'),
      ptr('gradX', 'rows * dim'),
      int('rows'),
      int('dim'),
    ],
    skipIf: 'rows <= 0 || dim <= 0',
    split: { work: 'rows * dim', cost: 'heavy', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'rmsNormGammaBackward',
    doc: 'gradGamma[c] += Σ_r gradOut[r, c] · x[r, c] · rstd[r]',
    args: [ptr('x', 'rows * dim'), ptr('rstd', 'rows'), ptr('gradOut', 'rows * dim'), ptr('gradGamma', 'dim'), int('rows'), int('dim')],
    skipIf: 'rows <= 0 || dim <= 0',
    // Parts own column ranges, so the sum over rows needs no partials and stays deterministic.
    split: { work: 'rows * dim', cost: 'stream', units: 'dim >> 2' },
    as: 'rows',
  },
  {
    name: 'ropeForward',
    doc: `Rotary position embedding, rotate-half convention (HF Llama): x is (rows, heads, dim) contiguous
where row r is position pos = offset + r % seq (rows = batch · seq); with h = dim / 2,
  out[.., c]     = x[c] · cos[pos, c] − x[c + h] · sin[pos, c]
  out[.., c + h] = x[c + h] · cos[pos, c] + x[c] · sin[pos, c]      for c < h.
cos and sin are (positions, h) tables; out may equal x.`,
    ...ropeLayout('x', 'out'),
  },
  {
    name: 'ropeBackward',
    doc: 'gradX += the inverse rotation of gradOut (ropeForward with −sin), same layout as ropeForward.',
    ...ropeLayout('gradOut', 'gradX'),
  },
  {
    name: 'softmaxForward',
    doc: 'Softmax over the last dimension of a (rows, dim) array.',
    args: [ptr('x', 'rows * dim'), ptr('out', 'rows * dim'), int('rows'), int('dim')],
    skipIf: 'rows <= 0 || dim <= 0',
    split: { work: 'rows * dim', cost: 'heavy', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'softmaxBackward',
    doc: 'gradX += y ⊙ (gradOut − Σ gradOut ⊙ y), y = softmax output',
    args: [ptr('y', 'rows * dim'), ptr('gradOut', 'rows * dim'), ptr('gradX', 'rows * dim'), int('rows'), int('dim')],
    skipIf: 'rows <= 0 || dim <= 0',
    split: { work: 'rows * dim', cost: 'stream', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'attentionForward',
    doc: `Fused causal attention, never materialising the mask:
  out[b,h,i,:] = Σ_j softmax_j(scale · q[b,h,i]·k[b,h,j]) v[b,h,j]  over j <= i + causalOffset
(causalOffset = tk - tq when the queries are the last tq of tk positions, as with a KV cache),
and with a sliding window also j > i + causalOffset − window; key blocks outside it are skipped.
q/out index (b, h, t) through their \`strides\` [sb, sh, st] with the head dimension contiguous;
k and v likewise. lse (b, h, tq) contiguous receives each row's log-sum-exp of the scaled scores.`,
    args: [{ name: 'p', kind: 'attention' }, ptr('out'), dims('outStrides'), ptr('lse')],
    as: 'attention',
  },
  {
    name: 'attentionBackward',
    doc: `Gradients of attentionForward; gradQ (b,h,tq,d), gradK and gradV (b,h,tk,d) are contiguous and
accumulated into. gradOut is indexed (b, h, t) through its own strides [sb, sh, st] (it is
usually contiguous (b,h,tq,d) while out is stored (b,tq,h,d)).`,
    args: [
      { name: 'p', kind: 'attention' },
      ptr('out'),
      dims('outStrides'),
      ptr('lse'),
      ptr('gradOut'),
      dims('gradOutStrides'),
      ptr('gradQ'),
      ptr('gradK'),
      ptr('gradV'),
    ],
    as: 'attention',
  },
  {
    name: 'crossEntropyForward',
    doc: `Per-row cross-entropy of softmax(logits) against int32 targets:
losses[r] = logsumexp(logits[r]) − logits[r, targets[r]], and lse[r] = logsumexp(logits[r]);
rows whose target equals ignoreIndex get loss 0. Targets outside [0, vocab) other than
ignoreIndex must be rejected by the caller.`,
    args: [
      ptr('logits', 'rows * vocab'),
      ptr('targets', 'rows'),
      ptr('losses', 'rows'),
      ptr('lse', 'rows'),
      int('rows'),
      int('vocab'),
      int('ignoreIndex'),
    ],
    skipIf: 'rows <= 0',
    split: { work: 'rows * vocab', cost: 'heavy', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'crossEntropyBackward',
    doc: 'gradLogits[r] += scale · (softmax(logits[r]) − onehot(targets[r])), skipping ignored rows',
    args: [
      ptr('logits', 'rows * vocab'),
      ptr('targets', 'rows'),
      ptr('lse', 'rows'),
      ptr('gradLogits', 'rows * vocab'),
      int('rows'),
      int('vocab'),
      int('ignoreIndex'),
      float('scale'),
    ],
    skipIf: 'rows <= 0',
    split: { work: 'rows * vocab', cost: 'heavy', units: 'rows' },
    as: 'rows',
  },
  {
    name: 'dropoutForward',
    doc: `Inverted dropout with a counter-based RNG, so the mask is a pure function of
(seed, offset + i) and backward regenerates it instead of storing it:
keep(i) = dropoutUniform(seed, offset + i) >= p;  out[i] = keep ? x[i] / (1 − p) : 0.`,
    args: [ptr('x', 'n'), ptr('out', 'n'), int('n'), float('p'), u32('seed'), u32('offset')],
    skipIf: 'n <= 0',
    require: [['p >= 0 && p <= 1', 'p must be in [0, 1], got ${p}']],
    split: ELEMS,
    as: 'elementwise',
  },
  {
    name: 'dropoutBackward',
    doc: 'gradX[i] += keep(i) ? gradOut[i] / (1 − p) : 0',
    args: [ptr('gradOut', 'n'), ptr('gradX', 'n'), int('n'), float('p'), u32('seed'), u32('offset')],
    skipIf: 'n <= 0',
    require: [['p >= 0 && p <= 1', 'p must be in [0, 1], got ${p}']],
    split: ELEMS,
    as: 'elementwise',
  },
  {
    name: 'adamw',
    doc: `One AdamW step (decoupled weight decay) over n contiguous parameters:
  m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²
  p -= lr · ( (m / bc1) / (sqrt(v / bc2) + eps) + weightDecay · p )
bc1 = 1 − β1^t and bc2 = 1 − β2^t are passed in (t = step number, from 1).`,
    args: [
      ptr('param', 'n'),
      ptr('grad', 'n'),
      ptr('m', 'n'),
      ptr('v', 'n'),
      int('n'),
      float('lr'),
      float('beta1'),
      float('beta2'),
      float('eps'),
      float('weightDecay'),
      float('bc1'),
      float('bc2'),
    ],
    skipIf: 'n <= 0',
    split: { ...ELEMS, cost: 'heavy' },
    as: 'elementwise',
  },
  {
    name: 'sumSquares',
    doc: 'Σ x[i]² accumulated in float64; NaN/Inf anywhere makes the result non-finite.',
    args: [ptr('x', 'n'), int('n')],
    returns: 'number',
    skipIf: 'n <= 0',
    // wasm: parts leave partial sums that are added after the call.
    manual: ['wasm'],
    as: 'elementwise',
  },
];

/**
 * The AttentionArgs fields the kernels read, in the ABI hash: a wasm module or native addon built
 * before a field existed is refused at load instead of silently ignoring it.
 */
export const ATTENTION_FIELDS = [
  'q',
  'k',
  'v',
  'qStrides',
  'kStrides',
  'vStrides',
  'batch',
  'heads',
  'tq',
  'tk',
  'headDim',
  'scale',
  'causalOffset',
  'kvGroup',
  'window',
] as const satisfies readonly (keyof AttentionArgs)[];
type UnlistedAttentionField = Exclude<keyof AttentionArgs, (typeof ATTENTION_FIELDS)[number]>;
// A type error here names an AttentionArgs field missing from ATTENTION_FIELDS.
const everyAttentionFieldListed: [UnlistedAttentionField] extends [never] ? true : UnlistedAttentionField = true;
void everyAttentionFieldListed;

/** Exports of the wasm module besides the kernels (scratch sizing, partial sums), by module. */
export const WASM_HELPERS: readonly (readonly [string, AsModule | 'common'])[] = [
  ['init', 'common'],
  ['heapBase', 'common'],
  ['sumPartials', 'elementwise'],
  ['layerNormReduce', 'rows'],
  ['layerNormMaxPartialDim', 'rows'],
  ['matmulScratchBytes', 'matmul'],
  ['attentionScratchBytes', 'attention'],
];
